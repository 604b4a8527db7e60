/**
 * ARI (RFC 9773) and profiles. Pebble 2.4.0 offers neither, so the CA side here is a MOCK: a small
 * local HTTP server serving a directory with `renewalInfo` and `meta.profiles`, named as such.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  AcmeProfileError,
  AcmeTransport,
  ariCertId,
  chooseRenewalTime,
  getRenewalInfo,
  newOrder,
  registerAccount,
} from "../../src/acme/index.ts";
import { decodeBase64Url, decodePem, utf8Decode } from "../../src/encoding/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { openssl } from "../support/openssl.ts";
import { makeTempDir } from "../support/temp.ts";

describe("ariCertId()", () => {
  test("matches RFC 9773 Appendix A for a certificate with its AKI and serial (made by openssl)", async () => {
    const dir = makeTempDir("bun-acme-ari-");
    // The issuer's key identifier and the serial of the RFC's example certificate.
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
      "-days", "10", "-subj", "/CN=ARI Test CA", "-addext", "subjectKeyIdentifier=69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4"], dir);
    await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=ari.test"], dir);
    await Bun.write(join(dir, "ext"), "authorityKeyIdentifier=keyid\n");
    await openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x87654321", "-days", "10", "-out", "leaf.pem",
      "-extfile", "ext"], dir);
    expect(ariCertId(decodePem(readFileSync(join(dir, "leaf.pem"), "utf8"), "CERTIFICATE"))).toBe("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
  });
});

describe("chooseRenewalTime()", () => {
  const certificate = { notBefore: new Date("2026-01-01T00:00:00Z"), notAfter: new Date("2026-04-01T00:00:00Z") };
  const now = new Date("2026-02-01T00:00:00Z");

  test("picks a moment inside the CA's window", () => {
    const info = { info: { suggestedWindow: { start: "2026-03-01T00:00:00Z", end: "2026-03-03T00:00:00Z" } }, retryAfterMs: 21_600_000 };
    const advice = chooseRenewalTime(certificate, info, now, () => 0.5);
    expect(advice.renewAt.toISOString()).toBe("2026-03-02T00:00:00.000Z");
    expect(advice.source).toBe("renewalInfo");
    expect(advice.retryAfterMs).toBe(21_600_000);
  });

  test("renews now when the window has passed", () => {
    const info = { info: { suggestedWindow: { start: "2026-01-10T00:00:00Z", end: "2026-01-11T00:00:00Z" } }, retryAfterMs: undefined };
    expect(chooseRenewalTime(certificate, info, now).renewAt).toEqual(now);
  });

  test("without renewalInfo, at 2/3 of the validity period", () => {
    const advice = chooseRenewalTime(certificate, undefined, now);
    expect(advice.source).toBe("lifetime");
    expect(advice.renewAt.toISOString()).toBe("2026-03-02T00:00:00.000Z"); // day 60 of 90
  });
});

let mock: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  mock?.stop(true);
  mock = undefined;
});

/** The MOCK CA: just enough of a directory, nonces, accounts and orders to see what the client sends. */
function startMockCa(options: { renewalInfo: boolean; profiles?: Record<string, string> }) {
  const orders: Record<string, unknown>[] = [];
  mock = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const base = `http://127.0.0.1:${mock!.port}`;
      const path = new URL(request.url).pathname;
      const headers = { "replay-nonce": crypto.randomUUID().replace(/-/g, "") };
      if (path === "/dir") {
        return Response.json({
          newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order`, revokeCert: `${base}/revoke`, keyChange: `${base}/key`,
          ...(options.renewalInfo ? { renewalInfo: `${base}/renewal-info` } : {}),
          meta: options.profiles ? { profiles: options.profiles } : {},
        });
      }
      if (path === "/nonce") return new Response(null, { headers });
      if (path === "/account") return Response.json({ status: "valid" }, { status: 201, headers: { ...headers, location: `${base}/account/1` } });
      if (path === "/order") {
        const jws = await request.json() as { payload: string };
        orders.push(JSON.parse(utf8Decode(decodeBase64Url(jws.payload))));
        return Response.json({ status: "pending", identifiers: [], authorizations: [], finalize: `${base}/finalize` }, {
          status: 201,
          headers: { ...headers, location: `${base}/order/1` },
        });
      }
      if (path.startsWith("/renewal-info/")) {
        return Response.json({ suggestedWindow: { start: "2026-03-01T00:00:00Z", end: "2026-03-03T00:00:00Z" }, explanationURL: "https://ca.test/ari" }, {
          headers: { "retry-after": "21600" },
        });
      }
      return new Response("not found", { status: 404 });
    },
  });
  return { directoryUrl: `http://127.0.0.1:${mock.port}/dir`, orders };
}

describe("renewalInfo and newOrder extensions (against a mock CA)", () => {
  test("getRenewalInfo() fetches the window and the CA's Retry-After", async () => {
    const { directoryUrl } = startMockCa({ renewalInfo: true });
    const result = await getRenewalInfo(new AcmeTransport({ directoryUrl }), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    expect(result?.info.suggestedWindow).toEqual({ start: "2026-03-01T00:00:00Z", end: "2026-03-03T00:00:00Z" });
    expect(result?.info.explanationURL).toBe("https://ca.test/ari");
    expect(result?.retryAfterMs).toBe(21_600_000);
  });

  test("getRenewalInfo() is undefined when the directory has no renewalInfo", async () => {
    const { directoryUrl } = startMockCa({ renewalInfo: false });
    expect(await getRenewalInfo(new AcmeTransport({ directoryUrl }), "x.y")).toBeUndefined();
  });

  test("newOrder() sends replaces only to a CA that offers renewalInfo", async () => {
    for (const renewalInfo of [true, false]) {
      const { directoryUrl, orders } = startMockCa({ renewalInfo });
      const transport = new AcmeTransport({ directoryUrl });
      const account = await registerAccount(transport, await generateKeyPair("ec256"));
      await newOrder(transport, account, [{ type: "dns", value: "a.test" }], { replaces: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" });
      expect(orders[0]!.replaces).toBe(renewalInfo ? "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" : undefined);
      mock!.stop(true);
    }
  });

  test("newOrder() sends a profile the directory lists, and refuses one it does not", async () => {
    const { directoryUrl, orders } = startMockCa({ renewalInfo: false, profiles: { classic: "the usual", shortlived: "6 days" } });
    const transport = new AcmeTransport({ directoryUrl });
    const account = await registerAccount(transport, await generateKeyPair("ec256"));
    await newOrder(transport, account, [{ type: "dns", value: "a.test" }], { profile: "shortlived" });
    expect(orders[0]!.profile).toBe("shortlived");
    const error = await newOrder(transport, account, [{ type: "dns", value: "a.test" }], { profile: "tlsserver" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProfileError);
    expect((error as Error).message).toBe('The CA offers no certificate profile "tlsserver" (it offers: classic, shortlived)');
    expect(orders).toHaveLength(1);
  });
});
