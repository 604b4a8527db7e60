/**
 * renew with a CA that offers ACME Renewal Information (RFC 9773). Pebble 2.4.0 has no ARI, so
 * the CA is the FAKE one (tests/support/fake-ca.ts behind Bun.serve), serving a suggested window.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const DAY = 86_400_000;
const iso = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();

describe("renew inside the CA's ARI window", () => {
  test("the renewal time is drawn from the window; renew asks again only after Retry-After; in the window it renews, sending replaces", async () => {
    const window = { start: iso(DAY), end: iso(2 * DAY) };
    const served = serveFakeCa({ renewalInfo: window });
    const state = makeTempDir("bun-acme-ari-");
    const folder = join(state, "certificates", "ari.fake.test");
    const metaFile = join(folder, "metadata.json");
    try {
      const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", "ari.fake.test", "--bind", "127.0.0.1",
        "--http-port", "20002", "--state", state]);
      expect(obtained.code).toBe(0);
      const meta = JSON.parse(readFileSync(metaFile, "utf8"));
      expect(meta.renewalSource).toBe("renewalInfo");
      expect(meta.ariCertId).toMatch(/^-s7K\.[A-Za-z0-9_-]+$/);
      expect(Date.parse(meta.nextRenewal)).toBeGreaterThanOrEqual(Date.parse(window.start));
      expect(Date.parse(meta.nextRenewal)).toBeLessThanOrEqual(Date.parse(window.end));
      expect(Date.parse(meta.ariRetryAt) - Date.now()).toBeGreaterThan(6 * 3_600_000 - 60_000);

      const asked = () => served.ca.requests.filter((request) => request.startsWith("GET /renewal-info/")).length;
      const askedBefore = asked();
      const early = await runClient(["renew", "--state", state]);
      expect(early.stdout.trim()).toBe(`ari.fake.test: not due until ${meta.nextRenewal} (expires ${meta.notAfter})`);
      expect(asked()).toBe(askedBefore); // Retry-After has not passed: the CA is not asked

      // The CA moves the window into the past (e.g. a revocation is coming); its Retry-After has passed.
      served.ca.follow({ renewalInfo: { start: iso(-2 * DAY), end: iso(-DAY) } });
      writeFileSync(metaFile, JSON.stringify({ ...meta, ariRetryAt: iso(-1000) }));
      const renewed = await runClient(["renew", "--state", state]);
      expect(renewed.stderr).toBe("");
      expect(renewed.stdout).toContain("ari.fake.test: renewed (serial ");
      expect(asked()).toBe(askedBefore + 2); // the check that found it due, and the new certificate's schedule
      expect(served.ca.orderPayloads.at(-1)).toMatchObject({ replaces: meta.ariCertId });
    } finally {
      await served.stop();
    }
  });
});
