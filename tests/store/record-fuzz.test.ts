/**
 * The store's record parsers against damaged records (seeded, so a failure reproduces): sealed
 * records truncated, with bytes flipped or characters inserted, and JSON records whose members
 * are replaced by values of every other type. Each one either parses or is refused with a
 * StoreError naming the record: never another exception, never a hang.
 */
import { describe, expect, test } from "bun:test";
import { KeySealer } from "../../src/store/key-sealing.ts";
import { parseConfigRecord, parseJsonObject, parseLineageMeta, StoreError, type LineageConfig, type LineageMeta } from "../../src/store/lineage.ts";
import { prng } from "../support/fuzz.ts";

const NAME = "bun-acme:lineage:fuzz.test/config";
const WHERE = "the Redis store redis://127.0.0.1:6379/bun-acme: lineage fuzz.test (config)";
const sealer = new KeySealer(crypto.getRandomValues(new Uint8Array(32)), "the Redis store redis://127.0.0.1:6379/bun-acme:");

const CONFIG: LineageConfig = {
  version: 2, name: "fuzz.test", identifiers: [{ type: "dns", value: "fuzz.test" }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false, keyType: "ec256",
  solver: { type: "dns-01", via: "rfc2136", server: "127.0.0.1", port: 53, tsig: "hmac-sha256:k:c2VjcmV0", propagationTimeoutSeconds: 5 },
  cli: { hooks: { deploy: "true" }, out: "/etc/ssl/fuzz" },
};
/** The same lineage as version 1 wrote it (read through the version 1 reader). */
const CONFIG_V1 = {
  version: 1, name: "fuzz.test", identifiers: [{ type: "dns", value: "fuzz.test" }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false,
  challenge: "dns-01", keyType: "ec256", bind: "0.0.0.0", ports: { http: 80, tls: 443, dns: 53 }, hooks: { deploy: "true" },
  dnsUpdate: { server: "127.0.0.1", port: 53, tsig: "hmac-sha256:k:c2VjcmV0", propagationTimeoutSeconds: 5 }, out: "/etc/ssl/fuzz",
};
const META: LineageMeta = {
  version: 1, serial: "0A", notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
  obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime", ariCertId: "a.b",
};
const VALUES: readonly unknown[] = [null, 0, -1, 1.5, 70000, "", "x", true, [], [null], {}, { type: "dns" }, [{ type: "ip", value: 1 }], "2026-13-45", { http: "80" }];

/** Every way of damaging a text record: truncation, a flipped character, an inserted one. */
function damageText(text: string, random: () => number): string {
  const at = Math.floor(random() * text.length);
  switch (Math.floor(random() * 4)) {
    case 0: return text.slice(0, at);
    case 1: return `${text.slice(0, at)}${String.fromCharCode(text.charCodeAt(at) ^ (1 + Math.floor(random() * 127)))}${text.slice(at + 1)}`;
    case 2: return `${text.slice(0, at)}${"{}[]\":,\\\u0000é=+/"[Math.floor(random() * 16)]}${text.slice(at)}`;
    default: return `${text.slice(0, at)}${text.slice(at + 1 + Math.floor(random() * 8))}`;
  }
}

/** A JSON record with one member replaced by another type's value, or removed. */
function damageMember(record: object, random: () => number): string {
  const json: Record<string, unknown> = structuredClone(record) as Record<string, unknown>;
  const keys = Object.keys(json);
  const key = keys[Math.floor(random() * keys.length)]!;
  if (random() < 0.15) delete json[key];
  else json[key] = structuredClone(VALUES[Math.floor(random() * VALUES.length)]);
  if (random() < 0.3) {
    const nested = ["ports", "dnsUpdate", "hooks", "identifiers", "solver", "cli"][Math.floor(random() * 6)]!;
    if (typeof json[nested] === "object" && json[nested] !== null) (json[nested] as Record<string, unknown>)[Array.isArray(json[nested]) ? "0" : "port"] = structuredClone(VALUES[Math.floor(random() * VALUES.length)]);
  }
  return JSON.stringify(json);
}

/** Parses a configuration record as a store does, expecting success or a StoreError naming it. */
async function parseOrRefuse(stored: string): Promise<"parsed" | "refused"> {
  try {
    parseConfigRecord(await sealer.open(stored, NAME), WHERE, true);
    return "parsed";
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/fuzz\.test/);
    return "refused";
  }
}

describe("store record parsers against damaged records", () => {
  test("5 000 damaged sealed configuration records: each refused as altered, naming the record", async () => {
    const random = prng(20);
    const sealed = await sealer.seal(JSON.stringify(CONFIG), NAME);
    expect(await parseOrRefuse(sealed)).toBe("parsed");
    let refused = 0;
    for (let round = 0; round < 5_000; round++) {
      const damaged = damageText(sealed, random);
      if (damaged === sealed) continue;
      // Only the prefix may change without the tag noticing (then the record reads as one in clear): never accepted as sealed.
      if ((await parseOrRefuse(damaged)) === "refused") refused++;
    }
    expect(refused).toBeGreaterThan(4_900);
  });

  test("5 000 damaged configurations and metadata in clear: each parsed or refused with a StoreError naming it, never another exception", async () => {
    const random = prng(21);
    const outcomes = { parsed: 0, refused: 0 };
    for (let round = 0; round < 5_000; round++) {
      const config = random() < 0.5 ? CONFIG : CONFIG_V1;
      const text = random() < 0.5 ? damageMember(config, random) : damageText(JSON.stringify(config), random);
      outcomes[await parseOrRefuse(text)]++;
      const meta = random() < 0.5 ? damageMember(META, random) : damageText(JSON.stringify(META), random);
      try {
        parseLineageMeta(parseJsonObject(meta, `${WHERE} (meta)`), `${WHERE} (meta)`);
      } catch (error) {
        expect(error).toBeInstanceOf(StoreError);
        expect((error as StoreError).message).toContain("fuzz.test");
      }
    }
    expect(outcomes.refused).toBeGreaterThan(4_000);
  });

  test("damaged sealed private keys: each refused naming the record", async () => {
    const random = prng(22);
    const sealed = await sealer.seal("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "bun-acme:lineage:fuzz.test/key");
    for (let round = 0; round < 2_000; round++) {
      const damaged = damageText(sealed, random);
      if (damaged === sealed) continue;
      const error = await sealer.openKey(damaged, "bun-acme:lineage:fuzz.test/key").then(() => undefined, (caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).message).toContain("bun-acme:lineage:fuzz.test/key");
    }
  });
});
