/**
 * AlpnRouter (tls-alpn-01 on the public HTTPS port): a ClientHello offering acme-tls/1 meets the
 * validation certificate (checked with openssl s_client, an independent client), any other the
 * HTTPS server behind it, whose handler can still learn the client's port; and TcpRelay closes a
 * connection that never sends enough to be routed.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { tlsAlpnCertificate } from "../../src/challenges/index.ts";
import { AlpnRouter, TcpRelay, TlsFrontServer, withClientAddresses } from "../../src/servers/index.ts";
import { chainPem, createTestRoot } from "../support/certificates.ts";
import { servedLeaf } from "../support/served-leaf.ts";

async function opensslHandshake(port: number, servername: string, alpn: string): Promise<string> {
  const child = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-alpn", alpn, "-showcerts"], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return out + err;
}

async function certificateText(output: string): Promise<string> {
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0] ?? "";
  const child = Bun.spawn(["openssl", "x509", "-noout", "-text"], { stdin: new TextEncoder().encode(pem), stdout: "pipe", stderr: "pipe" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return text;
}

describe("AlpnRouter", () => {
  test("acme-tls/1 gets the validation certificate; h2/http1.1 the HTTPS server, whose handler finds the client's port through the router", async () => {
    const root = await createTestRoot("router test root");
    const validation = await tlsAlpnCertificate({ type: "dns", value: "router.test" }, "token.thumbprint");
    let seenPort: number | undefined;
    let router: AlpnRouter | undefined;
    const https = new TlsFrontServer({
      hostname: "127.0.0.1", port: 0,
      fetch: (request, server) => {
        seenPort = withClientAddresses(server, (port) => router!.clientAddress(port)).requestIP(request)?.port;
        return new Response("from the HTTPS server\n");
      },
    });
    await https.serve([await servedLeaf(root, ["router.test"])]);
    router = new AlpnRouter({ hostname: "127.0.0.1", port: 0, protocol: "acme-tls/1", certificateFor: (name) => (name === "router.test" ? validation : undefined) });
    await router.listen(https.port);
    try {
      const acme = await opensslHandshake(router.port, "router.test", "acme-tls/1");
      expect(acme).toContain("ALPN protocol: acme-tls/1");
      expect(await certificateText(acme)).toContain("1.3.6.1.5.5.7.1.31: critical"); // the acmeIdentifier extension (RFC 8737)
      const browser = await opensslHandshake(router.port, "router.test", "h2,http/1.1");
      expect(browser).not.toContain("ALPN protocol: acme-tls/1");
      expect(await certificateText(browser)).not.toContain("1.3.6.1.5.5.7.1.31");

      const localPort = await new Promise<number>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: router!.port, servername: "router.test", ca: chainPem([root.der]), ALPNProtocols: ["http/1.1"] }, () => {
          socket.write("GET / HTTP/1.1\r\nHost: router.test\r\nConnection: close\r\n\r\n");
        });
        let text = "";
        socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
        socket.on("end", () => (text.endsWith("from the HTTPS server\n") ? resolve(socket.localPort!) : reject(new Error(text))));
        socket.on("error", reject);
      });
      expect(seenPort).toBe(localPort);
    } finally {
      await router.stop();
      await https.stop();
    }
  });
});

describe("TcpRelay with a router", () => {
  test("a connection that sends too little to be routed is closed after routeTimeoutMs", async () => {
    const target = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const relay = new TcpRelay({ router: () => "incomplete", routeTimeoutMs: 300 });
    relay.target = { port: target.port, connections: 0 };
    relay.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const closed = Promise.withResolvers<number>();
      const started = performance.now();
      const socket = await Bun.connect({ hostname: "127.0.0.1", port: relay.port!, socket: { data() {}, close: () => closed.resolve(performance.now() - started) } });
      socket.write(new Uint8Array([22, 3, 1])); // the start of a record, never finished
      const after = await closed.promise;
      expect(after).toBeGreaterThanOrEqual(250);
      expect(relay.target.connections).toBe(0); // never relayed
    } finally {
      relay.stopListening();
      target.stop(true);
    }
  });
});
