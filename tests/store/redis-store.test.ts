/**
 * The Redis store against a real redis-server: the same round trip as the file store, keys
 * encrypted at rest, and the lock a fleet relies on: exclusive, renewed while held, released by
 * a holder's death when its lease ends (SIGKILL), and fenced against a holder that stalled past
 * its lease (SIGSTOP) and then tries to save.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { RedisClient } from "bun";
import { LockHeldError, RedisCertificateStore, StoreError, type StoredLineage } from "../../src/store/index.ts";
import { LineReader } from "../support/lines.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(30_000);

let redis: Redis;
beforeAll(async () => {
  redis = await startRedis(16379);
});
afterAll(async () => {
  await redis?.stop();
});

const lineage = (name: string, serial = "0A"): StoredLineage => ({
  config: {
    version: 1, name, identifiers: [{ type: "dns", value: name }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false, challenge: "http-01",
    keyType: "ec256", bind: "0.0.0.0", ports: { http: 80, tls: 443, dns: 53 }, hooks: {},
  },
  meta: {
    version: 1, serial, notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
    obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime",
  },
  keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
});

describe("RedisCertificateStore", () => {
  test("saves and loads a lineage whole; lists it; an absent one is undefined", async () => {
    const store = new RedisCertificateStore(redis.url, { prefix: "t1:" });
    try {
      await store.save(lineage("a.redis.test"));
      expect(await store.list()).toEqual(["a.redis.test"]);
      expect(await store.load("a.redis.test")).toEqual(lineage("a.redis.test"));
      expect(await store.summary("absent.redis.test")).toBeUndefined();
    } finally {
      store.close();
    }
  });

  test("private keys encrypted at rest: Redis holds no PEM key; the right key opens it, none or another is refused", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    const store = new RedisCertificateStore(redis.url, { prefix: "t2:", encryptionKey: key });
    const raw = new RedisClient(redis.url);
    try {
      await store.save(lineage("secret.redis.test"));
      const stored = (await raw.send("HGET", ["t2:lineage:secret.redis.test", "key"])) as string;
      expect(stored).toStartWith("aes-256-gcm:");
      expect(stored).not.toContain("PRIVATE KEY");
      expect((await store.load("secret.redis.test"))?.keyPem).toBe(lineage("secret.redis.test").keyPem);
      const withoutKey = new RedisCertificateStore(redis.url, { prefix: "t2:" });
      const wrongKey = new RedisCertificateStore(redis.url, { prefix: "t2:", encryptionKey: new Uint8Array(32) });
      expect(await withoutKey.load("secret.redis.test").catch((error: StoreError) => error.code)).toBe("ERR_STORE_ENCRYPTED");
      expect(await wrongKey.load("secret.redis.test").catch((error: StoreError) => error.code)).toBe("ERR_STORE_ENCRYPTED");
      withoutKey.close();
      wrongKey.close();
    } finally {
      raw.close();
      store.close();
    }
  });

  test("the lock is exclusive, names its holder, and is kept past its lease while held", async () => {
    const first = new RedisCertificateStore(redis.url, { prefix: "t3:", leaseMs: 300 });
    const second = new RedisCertificateStore(redis.url, { prefix: "t3:", leaseMs: 300 });
    try {
      const held = await first.lock("l.redis.test");
      await Bun.sleep(900); // three leases pass (time, not an event): the holder renews meanwhile
      const error = await second.lock("l.redis.test", { waitMs: 200 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(LockHeldError);
      expect((error as LockHeldError).holder?.pid).toBe(process.pid);
      await held.release();
      const next = await second.lock("l.redis.test", { waitMs: 200 });
      await next.release();
    } finally {
      first.close();
      second.close();
    }
  });
});

describe("a lock holder in another process", () => {
  const holder = (leaseMs: number, stored: StoredLineage) => {
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "support", "redis-lock-holder.ts"), redis.url, String(leaseMs), JSON.stringify(stored)],
      { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    return { child, lines: new LineReader(child.stdout) };
  };

  test("killed with SIGKILL: another takes the lock once the lease ends", async () => {
    const { child, lines } = holder(800, lineage("killed.redis.test"));
    await lines.waitFor((line) => line === "locked", 10_000);
    child.kill("SIGKILL");
    await child.exited;
    const store = new RedisCertificateStore(redis.url, { prefix: "bun-acme:" });
    try {
      const started = Date.now();
      const taken = await store.lock("killed.redis.test", { waitMs: 5_000 });
      expect(Date.now() - started).toBeLessThan(5_000);
      await taken.release();
    } finally {
      store.close();
    }
  });

  test("stalled past its lease (SIGSTOP) while another took over: its save is fenced, the newer lineage stays", async () => {
    const { child, lines } = holder(500, lineage("stalled.redis.test", "01"));
    await lines.waitFor((line) => line === "locked", 10_000);
    child.kill("SIGSTOP");
    const store = new RedisCertificateStore(redis.url, { prefix: "bun-acme:" });
    try {
      const taken = await store.lock("stalled.redis.test", { waitMs: 5_000 });
      await store.save(lineage("stalled.redis.test", "02"), taken);
      child.kill("SIGCONT");
      child.stdin.write("save\n");
      child.stdin.flush();
      expect(await lines.waitFor((line) => line === "saved" || line.startsWith("ERR_"), 10_000)).toBe("ERR_STORE_FENCED");
      expect((await store.load("stalled.redis.test"))?.meta.serial).toBe("02");
      await taken.release();
    } finally {
      child.kill();
      store.close();
    }
  });
});
