/**
 * lineageDamage(): a lineage's key and chain checked together, one test per kind of damage a
 * store meets (another site's fullchain copied over, junk in the chain, a chain out of order or
 * signed by a stranger, metadata of another certificate, an unreadable key); whole lineages,
 * expired ones included, pass.
 */
import { describe, expect, test } from "bun:test";
import { decodePemBlocks, encodePem } from "../../src/encoding/index.ts";
import { ensureLineage, lineageDamage } from "../../src/lifecycle/index.ts";
import type { StoredLineage } from "../../src/store/index.ts";
import { configFor, engineWorld } from "../support/engine.ts";

async function twoLineages() {
  const world = engineWorld();
  const issuer = world.issuer();
  const a = (await ensureLineage(world.store, configFor("a.fake.test"), issuer)).lineage!;
  const b = (await ensureLineage(world.store, configFor("b.fake.test"), issuer)).lineage!;
  return { world, a, b };
}

const certificates = (lineage: StoredLineage) => decodePemBlocks(lineage.chainPem).map((block) => encodePem("CERTIFICATE", block.der));

describe("lineageDamage()", () => {
  test("a whole lineage has none, expired too (an expired certificate is served until renewed, not damaged)", async () => {
    const { world, a } = await twoLineages();
    expect(await lineageDamage(a, world.clock.now())).toBeUndefined();
    expect(await lineageDamage(a, world.clock.now() + 30 * 86_400_000)).toBeUndefined();
  });

  test("another lineage's fullchain copied over it: the certificate certifies another key", async () => {
    const { world, a, b } = await twoLineages();
    expect(await lineageDamage({ ...a, chainPem: b.chainPem }, world.clock.now())).toContain("another key than the lineage's private key");
  });

  test("junk in the chain: text outside the PEM blocks, a block that is not a certificate, a block that is not DER", async () => {
    const { world, a } = await twoLineages();
    const now = world.clock.now();
    expect(await lineageDamage({ ...a, chainPem: `${a.chainPem}garbage\n` }, now)).toBe("the chain holds text outside its PEM blocks");
    expect(await lineageDamage({ ...a, chainPem: `${a.chainPem}${a.keyPem}` }, now)).toBe(`the chain's block 3 is a "PRIVATE KEY", not a CERTIFICATE`);
    expect(await lineageDamage({ ...a, chainPem: `${a.chainPem}${encodePem("CERTIFICATE", Uint8Array.of(1, 2, 3))}` }, now)).toStartWith("the chain cannot be read");
    expect(await lineageDamage({ ...a, chainPem: "" }, now)).toBe("the chain holds no certificate");
  });

  test("a chain out of order: the intermediate first, or a certificate followed by one that did not issue it", async () => {
    const { world, a, b } = await twoLineages();
    const now = world.clock.now();
    const [leaf, intermediate] = certificates(a);
    expect(await lineageDamage({ ...a, chainPem: `${intermediate}${leaf}` }, now)).toBeString();
    expect(await lineageDamage({ ...a, chainPem: `${leaf}${certificates(b)[0]}${intermediate}` }, now)).toBe("the chain's certificate 1 is not issued by certificate 2, which follows it (chain out of order)");
  });

  test("a leaf followed by an intermediate of the same name but another key (another CA's)", async () => {
    const { world, a } = await twoLineages();
    const elsewhere = await twoLineages();
    const [leaf] = certificates(a);
    const [, foreignIntermediate] = certificates(elsewhere.a);
    expect(await lineageDamage({ ...a, chainPem: `${leaf}${foreignIntermediate}` }, world.clock.now())).toBe("the chain's certificate 1 is not signed by certificate 2, which follows it");
  });

  test("metadata of another certificate: serial, expiry", async () => {
    const { world, a, b } = await twoLineages();
    const now = world.clock.now();
    expect(await lineageDamage({ ...a, meta: { ...a.meta, serial: b.meta.serial } }, now)).toStartWith("the metadata names serial");
    expect(await lineageDamage({ ...a, meta: { ...a.meta, notAfter: "2027-01-01T00:00:00.000Z" } }, now)).toStartWith("the metadata says it expires at 2027-01-01");
  });

  test("a certificate for other names than the lineage's, one not valid yet, and a key that cannot be read", async () => {
    const { world, a } = await twoLineages();
    const now = world.clock.now();
    expect(await lineageDamage({ ...a, config: configFor("a.fake.test", "www.a.fake.test") }, now)).toBe("the certificate is for a.fake.test, not for the lineage's a.fake.test, www.a.fake.test");
    expect(await lineageDamage(a, now - 86_400_000)).toStartWith("the certificate is not valid before");
    expect(await lineageDamage({ ...a, keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, now)).toStartWith("the private key cannot be read");
  });
});
