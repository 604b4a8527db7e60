/**
 * tls-alpn-01: the solver's certificate, served by the node:tls responder, checked with a real
 * handshake by openssl s_client offering acme-tls/1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, X509Certificate } from "node:crypto";
import { ACME_TLS_ALPN_PROTOCOL, TlsAlpn01Solver, tlsAlpnServerName } from "../../src/challenges/index.ts";
import { startTlsAlpnServer, type RunningServer } from "../../src/servers/index.ts";

const challenge = { type: "tls-alpn-01", url: "https://ca.test/c/1", status: "pending" as const, token: "t" };
const solver = new TlsAlpn01Solver();
let server: RunningServer;

beforeAll(async () => {
  server = await startTlsAlpnServer({ hostname: "127.0.0.1", port: 0, protocol: ACME_TLS_ALPN_PROTOCOL, certificateFor: (name) => solver.certificateFor(name) });
});
afterAll(async () => {
  await server?.stop();
});

async function sClient(serverName: string, alpn: string): Promise<string> {
  const child = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${server.port}`, "-servername", serverName, "-alpn", alpn, "-showcerts"], {
    stdin: new TextEncoder().encode("Q\n"),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return stdout + stderr;
}

describe("tls-alpn-01", () => {
  test("tlsAlpnServerName() uses reverse names for IP identifiers (RFC 8738 §6)", () => {
    expect(tlsAlpnServerName({ type: "dns", value: "Example.Test" })).toBe("example.test");
    expect(tlsAlpnServerName({ type: "ip", value: "192.0.2.1" })).toBe("1.2.0.192.in-addr.arpa");
    expect(tlsAlpnServerName({ type: "ip", value: "2001:db8::1" })).toBe(
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
  });

  test("the responder negotiates acme-tls/1 and presents a certificate with the SAN and the critical acmeIdentifier digest", async () => {
    const keyAuthorization = "token.thumbprint";
    await solver.present({ type: "dns", value: "alpn.test" }, challenge, keyAuthorization);
    const output = await sClient("alpn.test", ACME_TLS_ALPN_PROTOCOL);
    expect(output).toContain("ALPN protocol: acme-tls/1");
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(output)![0];
    const certificate = new X509Certificate(pem);
    expect(certificate.subjectAltName).toBe("DNS:alpn.test");
    // The extension, as openssl prints it: critical, and its value is OCTET STRING(SHA-256(key authorization)).
    const text = Bun.spawnSync(["openssl", "x509", "-noout", "-text"], { stdin: new TextEncoder().encode(pem) }).stdout.toString();
    expect(text).toMatch(/1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
    // extnValue is OCTET STRING { OCTET STRING (32 bytes of SHA-256) }: 04 22 04 20 <digest>.
    const der = Buffer.from(certificate.raw).toString("hex");
    expect(der).toContain(`04220420${createHash("sha256").update(keyAuthorization).digest("hex")}`);
  });

  test("an unknown server name gets no certificate; after cleanup the name is gone too", async () => {
    expect(await sClient("unknown.test", ACME_TLS_ALPN_PROTOCOL)).not.toContain("BEGIN CERTIFICATE");
    solver.cleanup({ type: "dns", value: "alpn.test" });
    expect(await sClient("alpn.test", ACME_TLS_ALPN_PROTOCOL)).not.toContain("BEGIN CERTIFICATE");
  });
});
