/**
 * clientHelloAlpn() on ClientHellos captured from real clients (openssl s_client, curl) as they
 * reach a TCP listener, and on malformed input.
 */
import { describe, expect, test } from "bun:test";
import { clientHelloAlpn } from "../../src/servers/index.ts";

/** The first bytes `command` sends to a TCP listener on loopback (its ClientHello), the connection then closed. */
async function capture(command: (port: number) => string[]): Promise<Uint8Array> {
  const received = Promise.withResolvers<Uint8Array>();
  const chunks: Uint8Array[] = [];
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, chunk) {
        chunks.push(chunk.slice());
        const bytes = Buffer.concat(chunks);
        if (bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt16BE(3)) {
          received.resolve(new Uint8Array(bytes));
          socket.end();
        }
      },
    },
  });
  const child = Bun.spawn(command(listener.port), { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  try {
    return await received.promise;
  } finally {
    child.kill();
    listener.stop(true);
  }
}

const openssl = (alpn: string) => (port: number) => ["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", "alpn.test", "-alpn", alpn];

describe("clientHelloAlpn()", () => {
  test("reads acme-tls/1 from openssl s_client -alpn acme-tls/1 (the CA's offer)", async () => {
    expect(clientHelloAlpn(await capture(openssl("acme-tls/1")))).toEqual({ kind: "alpn", protocols: ["acme-tls/1"] });
  });

  test("reads h2 and http/1.1 from curl's ClientHello", async () => {
    const hello = await capture((port) => ["curl", "-sk", "--http2", "--resolve", `alpn.test:${port}:127.0.0.1`, `https://alpn.test:${port}/`]);
    expect(clientHelloAlpn(hello)).toEqual({ kind: "alpn", protocols: ["h2", "http/1.1"] });
  });

  test("a ClientHello without ALPN offers nothing", async () => {
    const hello = await capture((port) => ["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", "alpn.test"]);
    expect(clientHelloAlpn(hello)).toEqual({ kind: "alpn", protocols: [] });
  });

  test("every cut of a real ClientHello is incomplete, never an exception", async () => {
    const hello = await capture(openssl("h2,acme-tls/1"));
    for (let length = 0; length < hello.length; length++) expect(clientHelloAlpn(hello.subarray(0, length)).kind).toBe("incomplete");
    expect(clientHelloAlpn(hello)).toEqual({ kind: "alpn", protocols: ["h2", "acme-tls/1"] });
  });

  test("plain HTTP, another record type, and corrupted lengths are unreadable, never an exception", async () => {
    expect(clientHelloAlpn(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).kind).toBe("unreadable");
    expect(clientHelloAlpn(new Uint8Array([21, 3, 3, 0, 2, 2, 40])).kind).toBe("unreadable"); // an alert
    const hello = await capture(openssl("acme-tls/1"));
    for (let offset = 5; offset < hello.length; offset++) {
      const corrupted = hello.slice();
      corrupted[offset] = 0xff;
      expect(() => clientHelloAlpn(corrupted)).not.toThrow();
    }
  });
});
