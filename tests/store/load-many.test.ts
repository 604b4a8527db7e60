/**
 * CertificateStore.loadMany() against the real shared stores (redis-server and PostgreSQL 15 from
 * Debian), the file store and the memory store: every named lineage read in one batch, absent
 * names left out, a damaged record kept as its error without hiding the others; and Redis's
 * announcement of a save carrying the record, so that a fleet's instances take it up unread.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { FileCertificateStore, MemoryCertificateStore, PostgresCertificateStore, RedisCertificateStore, StoreError, type CertificateStore, type StoredLineage } from "../../src/store/index.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { chmodSync, chownSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(30_000);

let redis: Redis;
let postgres: Postgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(16383), startPostgres(16435, { log_statement: "all" })]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

const lineage = (name: string, serial = "0A"): StoredLineage => ({
  config: {
    version: 2, name, identifiers: [{ type: "dns", value: name }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false,
    keyType: "ec256", solver: { type: "http-01", via: "external" },
  },
  meta: {
    version: 1, serial, notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
    obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime",
  },
  keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
});

/** Redis's own count of one command since its last `CONFIG RESETSTAT`. */
function redisCalls(command: string): number {
  const stats = Bun.spawnSync(["redis-cli", "-p", "16383", "INFO", "commandstats"]).stdout.toString();
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

const NAMES = Array.from({ length: 50 }, (_, index) => `n${index}.batch.test`);

describe("loadMany() on redis", () => {
  test("reads every named lineage whole; an empty store is one SMEMBERS for 50 names; stored ones one HMGET each, all sent at once", async () => {
    const store = new RedisCertificateStore(redis.url, { prefix: "batch:" });
    try {
      Bun.spawnSync(["redis-cli", "-p", "16383", "CONFIG", "RESETSTAT"]);
      expect((await store.loadMany(NAMES)).size).toBe(0);
      expect(redisCalls("smembers")).toBe(1);
      expect(redisCalls("hmget")).toBe(0);
      for (const name of NAMES.slice(0, 3)) await store.save(lineage(name));
      Bun.spawnSync(["redis-cli", "-p", "16383", "CONFIG", "RESETSTAT"]);
      const found = await store.loadMany(NAMES);
      expect([...found.keys()].sort()).toEqual(NAMES.slice(0, 3).sort());
      expect(found.get(NAMES[0]!)).toEqual(lineage(NAMES[0]!));
      expect(redisCalls("hmget")).toBe(3);
    } finally {
      store.close();
    }
  });

  test("a damaged record (its metadata gone) is its StoreError; the others are read", async () => {
    const store = new RedisCertificateStore(redis.url, { prefix: "damaged:" });
    try {
      await store.save(lineage("good.redis.test"));
      await store.save(lineage("bad.redis.test"));
      Bun.spawnSync(["redis-cli", "-p", "16383", "HDEL", "damaged:lineage:bad.redis.test", "meta"]);
      const found = await store.loadMany(["good.redis.test", "bad.redis.test", "absent.redis.test"]);
      expect(found.get("good.redis.test")).toEqual(lineage("good.redis.test"));
      expect(found.get("bad.redis.test")).toBeInstanceOf(StoreError);
      expect((found.get("bad.redis.test") as StoreError).message).toContain("bad.redis.test: the metadata is missing");
      expect(found.has("absent.redis.test")).toBe(false);
    } finally {
      store.close();
    }
  });

  test("a save is announced with its record (the key sealed as at rest): a watcher with the key gets the lineage whole; a metadata save by name alone", async () => {
    const encryptionKey = crypto.getRandomValues(new Uint8Array(32));
    const store = new RedisCertificateStore(redis.url, { prefix: "announce:", encryptionKey });
    const heard: { name: string; lineage?: StoredLineage }[] = [];
    const stop = await store.watch((name, announced) => heard.push({ name, ...(announced ? { lineage: announced } : {}) }));
    try {
      await store.save(lineage("announced.redis.test", "0B"));
      await store.saveMeta("announced.redis.test", { ...lineage("x").meta, serial: "0B", nextRenewal: "2026-03-03T00:00:00.000Z" });
      for (const started = Date.now(); heard.length < 2 && Date.now() - started < 5_000;) await Bun.sleep(20);
      expect(heard[0]).toEqual({ name: "announced.redis.test", lineage: lineage("announced.redis.test", "0B") });
      expect(heard[1]).toEqual({ name: "announced.redis.test" });
    } finally {
      await stop();
      store.close();
    }
  });
});

describe("loadMany() on postgres", () => {
  test("one statement (name = any(…)) for 51 names, as PostgreSQL logs it; stored ones whole, absent left out, a damaged one its StoreError", async () => {
    const url = await postgres.database("batch");
    const store = new PostgresCertificateStore(url);
    const sql = new SQL(url);
    try {
      for (const name of NAMES.slice(0, 3)) await store.save(lineage(name));
      await store.save(lineage("bad.postgres.test"));
      await sql`update bun_acme_lineages set meta = 'not json' where name = 'bad.postgres.test'`;
      const logged = () => readFileSync(postgres.logFile, "utf8").split("\n").filter((line) => /LOG: {2}(statement|execute)/.test(line));
      const before = logged().length;
      const found = await store.loadMany([...NAMES, "bad.postgres.test"]);
      const statements = logged().slice(before);
      expect([...found.keys()].sort()).toEqual([...NAMES.slice(0, 3), "bad.postgres.test"].sort());
      expect(found.get(NAMES[1]!)).toEqual(lineage(NAMES[1]!));
      expect(found.get("bad.postgres.test")).toBeInstanceOf(StoreError);
      expect(statements).toHaveLength(1);
      expect(statements[0]).toContain("where name = any(");
    } finally {
      await sql.close();
      await store.close();
    }
  });
});

describe("loadMany() on the local stores", () => {
  const stores: [string, () => CertificateStore][] = [
    ["memory", () => new MemoryCertificateStore()],
    ["file", () => new FileCertificateStore(makeTempDir("load-many-"))],
  ];
  for (const [kind, open] of stores) {
    test(`${kind}: the stored names, whole; absent ones left out`, async () => {
      const store = open();
      await store.save(lineage("a.local.test"));
      await store.save(lineage("b.local.test", "0C"));
      const found = await store.loadMany!(["a.local.test", "absent.local.test", "b.local.test"]);
      expect([...found.keys()]).toEqual(["a.local.test", "b.local.test"]);
      expect(found.get("b.local.test")).toEqual(lineage("b.local.test", "0C"));
    });
  }

  test("file: in one batch, a lineage whose folder another user owns or anyone may write is refused; those before and after it are read", async () => {
    const dir = makeTempDir("load-many-owned-");
    const store = new FileCertificateStore(dir);
    for (const name of ["a.local.test", "b.local.test", "c.local.test", "d.local.test"]) await store.save(lineage(name));
    chmodSync(join(dir, "certificates", "b.local.test"), 0o777); // the folders before and after it are found sound and not examined again
    if (process.getuid?.() === 0) chownSync(join(dir, "certificates", "d.local.test"), 65534, 65534);
    const found = await store.loadMany!(["a.local.test", "b.local.test", "c.local.test", "d.local.test"]);
    expect(found.get("a.local.test")).toEqual(lineage("a.local.test"));
    expect(found.get("c.local.test")).toEqual(lineage("c.local.test"));
    expect(found.get("b.local.test")).toBeInstanceOf(StoreError);
    expect((found.get("b.local.test") as StoreError).message).toContain("lets everyone write it");
    if (process.getuid?.() === 0) expect((found.get("d.local.test") as StoreError).message).toContain("owned by uid 65534");
  });

  test("file: in one batch, a certificates/ folder anyone may write refuses every lineage, not only the first", async () => {
    // certificates/ is on every lineage's path: a folder remembered before it was found sound would let the rest through.
    const dir = makeTempDir("load-many-shared-");
    const store = new FileCertificateStore(dir);
    const names = ["a.local.test", "b.local.test", "c.local.test"];
    for (const name of names) await store.save(lineage(name));
    chmodSync(join(dir, "certificates"), 0o777);
    const found = await store.loadMany!(names);
    for (const name of names) {
      expect(found.get(name)).toBeInstanceOf(StoreError);
      expect((found.get(name) as StoreError).message).toContain(`${join(dir, "certificates")}: its mode 0777 lets everyone write it`);
    }
  });

  test("file: a lineage whose key or chain file was deleted is its StoreError (damage, obtained again); the others are read", async () => {
    const dir = makeTempDir("load-many-missing-");
    const store = new FileCertificateStore(dir);
    for (const name of ["a.local.test", "b.local.test", "c.local.test"]) await store.save(lineage(name));
    rmSync(join(dir, "certificates", "b.local.test", "privkey.pem"));
    rmSync(join(dir, "certificates", "c.local.test", "fullchain.pem"));
    const found = await store.loadMany!(["a.local.test", "b.local.test", "c.local.test"]); // threw ENOENT: the whole start failed
    expect(found.get("a.local.test")).toEqual(lineage("a.local.test"));
    expect((found.get("b.local.test") as StoreError).code).toBe("ERR_STORE_CORRUPT");
    expect((found.get("b.local.test") as StoreError).message).toContain("privkey.pem is missing");
    expect((found.get("c.local.test") as StoreError).message).toContain("fullchain.pem is missing");
  });
});
