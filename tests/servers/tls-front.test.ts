/**
 * TlsFrontServer (the on-demand HTTPS server: a node:tls front choosing the certificate per
 * handshake, piping to Bun.serve on loopback): the handler sees the client, not the loopback hop,
 * and a trailing-dot SNI finds the name's certificate.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { TlsFrontServer } from "../../src/servers/index.ts";
import { chainPem, createTestRoot } from "../support/certificates.ts";
import { servedLeaf } from "../support/served-leaf.ts";

/** One GET over a new TLS connection for `servername`: the body, and the connection's own local port. */
function get(port: number, servername: string, rootPem: string): Promise<{ body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, ca: rootPem, checkServerIdentity: () => undefined }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: front.test\r\nConnection: close\r\n\r\n`);
    });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    socket.on("end", () => resolve({ body: text.slice(text.indexOf("\r\n\r\n") + 4), localPort: socket.localPort! }));
    socket.on("error", reject);
  });
}

describe("TlsFrontServer", () => {
  test("the handler's requestIP() is the client's address and port, not the loopback hop's", async () => {
    const root = await createTestRoot("front test root");
    const server = new TlsFrontServer({
      hostname: "127.0.0.1", port: 0,
      fetch: (request, bunServer) => {
        const seen = bunServer.requestIP(request);
        return new Response(`${seen?.address} ${seen?.port}`);
      },
    });
    try {
      await server.serve([await servedLeaf(root, ["front.test"])]);
      const answer = await get(server.port, "front.test", chainPem([root.der]));
      expect(answer.body).toBe(`127.0.0.1 ${answer.localPort}`);
    } finally {
      await server.stop();
    }
  });

  test("a trailing-dot SNI (front.test.) gets front.test's certificate", async () => {
    const root = await createTestRoot("front test root");
    const server = new TlsFrontServer({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello") });
    try {
      await server.serve([await servedLeaf(root, ["front.test"])]);
      expect((await get(server.port, "front.test.", chainPem([root.der]))).body).toBe("hello");
    } finally {
      await server.stop();
    }
  });

  test("stop() does not wait for an idle keep-alive client to leave: it closes that connection (the daemon's SIGTERM)", async () => {
    const root = await createTestRoot("front test root");
    const server = new TlsFrontServer({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello") });
    await server.serve([await servedLeaf(root, ["front.test"])]);
    const closedByServer = Promise.withResolvers<void>();
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: server.port, servername: "front.test", ca: chainPem([root.der]), checkServerIdentity: () => undefined }, () => {
        socket.write("GET / HTTP/1.1\r\nHost: front.test\r\n\r\n"); // keep-alive: the client stays, idle
      });
      socket.once("data", () => resolve());
      socket.on("close", () => closedByServer.resolve());
      socket.on("error", reject);
    });
    // A guard against a hang (Bun closes idle connections after about 10 s), not a speed target.
    expect(await Promise.race([server.stop().then(() => "stopped"), Bun.sleep(3_000).then(() => "still waiting for the client")])).toBe("stopped");
    await closedByServer.promise;
  });
});
