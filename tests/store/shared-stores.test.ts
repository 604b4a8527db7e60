/**
 * The shared stores against real servers (redis-server and PostgreSQL 15 from Debian): the same
 * cases for both. Round trip, keys encrypted at rest, the account, shared challenge answers, save
 * notifications, and the lock a fleet relies on: exclusive, renewed while held, released by a
 * holder's death when its lease ends (SIGKILL), and fenced against a holder that stalled past its
 * lease (SIGSTOP) and then tries to save.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { LockHeldError, PostgresCertificateStore, RedisCertificateStore, StoreError, StoreUnavailableError, type CertificateStore, type StoredLineage } from "../../src/store/index.ts";
import { LineReader } from "../support/lines.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(30_000);

let redis: Redis;
let postgres: Postgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(16379), startPostgres(16432)]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

type Store = CertificateStore & { close(): Promise<void> | void };
const BACKENDS: readonly { readonly kind: "redis" | "postgres"; url(): string; open(options?: { encryptionKey?: Uint8Array; leaseMs?: number }): Store }[] = [
  { kind: "redis", url: () => redis.url, open: (options) => new RedisCertificateStore(redis.url, options) },
  { kind: "postgres", url: () => postgres.url, open: (options) => new PostgresCertificateStore(postgres.url, options) },
];

const lineage = (name: string, serial = "0A"): StoredLineage => ({
  config: {
    version: 2, name, identifiers: [{ type: "dns", value: name }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false,
    keyType: "ec256", solver: { type: "http-01", via: "responder", bind: "0.0.0.0", port: 80 },
  },
  meta: {
    version: 1, serial, notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
    obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime",
  },
  keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
});

async function using<T>(stores: Store[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    for (const store of stores) await store.close();
  }
}

for (const backend of BACKENDS) {
  describe(`the ${backend.kind} store`, () => {
    test("saves and loads a lineage whole; lists it; an absent one is undefined; saves are announced", async () => {
      const store = backend.open();
      const heard: string[] = [];
      const heardIt = Promise.withResolvers<void>();
      const stop = await store.watch!((name) => {
        heard.push(name);
        heardIt.resolve();
      });
      await using([store], async () => {
        await store.save(lineage(`a.${backend.kind}.test`));
        expect(await store.list()).toContain(`a.${backend.kind}.test`);
        expect(await store.load(`a.${backend.kind}.test`)).toEqual(lineage(`a.${backend.kind}.test`));
        expect(await store.summary(`absent.${backend.kind}.test`)).toBeUndefined();
        await heardIt.promise;
        expect(heard).toContain(`a.${backend.kind}.test`);
        await stop();
      });
    });

    test("private keys encrypted at rest; the right key opens them, none or another is refused; the account too; no key is then added in clear", async () => {
      const key = crypto.getRandomValues(new Uint8Array(32));
      // A namespace of its own (Redis key prefix, PostgreSQL database): once keys are sealed there, keyless saves are refused.
      const url = backend.kind === "redis" ? redis.url : await postgres.database("sealed");
      const open = (encryptionKey?: Uint8Array) => backend.kind === "redis"
        ? new RedisCertificateStore(url, { prefix: "sealed:", ...(encryptionKey ? { encryptionKey } : {}) })
        : new PostgresCertificateStore(url, encryptionKey ? { encryptionKey } : {});
      const store = open(key);
      const withoutKey = open();
      const wrongKey = open(new Uint8Array(32));
      await using([store, withoutKey, wrongKey], async () => {
        await store.save(lineage(`secret.${backend.kind}.test`));
        expect((await store.load(`secret.${backend.kind}.test`))?.keyPem).toBe(lineage("x").keyPem);
        expect(await withoutKey.load(`secret.${backend.kind}.test`).catch((error: StoreError) => error.code)).toBe("ERR_STORE_ENCRYPTED");
        expect(await wrongKey.load(`secret.${backend.kind}.test`).catch((error: StoreError) => error.code)).toBe("ERR_STORE_TAMPERED");
        await store.accountStorage().saveKey("-----BEGIN PRIVATE KEY-----\nACCOUNT\n-----END PRIVATE KEY-----\n");
        expect(await store.accountStorage().readKey()).toContain("ACCOUNT");
        expect(await withoutKey.accountStorage().readKey().catch((error: StoreError) => error.code)).toBe("ERR_STORE_ENCRYPTED");
        const inClear = await withoutKey.save(lineage(`secret.${backend.kind}.test`, "0B")).catch((error: StoreError) => error);
        expect((inClear as StoreError).code).toBe("ERR_STORE_ENCRYPTED");
        expect((inClear as StoreError).message).toContain("the store's records are encrypted, so this one is not stored in clear");
        expect((await store.load(`secret.${backend.kind}.test`))?.meta.serial).toBe("0A");
      });
    });

    test("a save that releases its lock: written, the lock free at once for another holder, the late release() ends nothing of theirs, the save announced with its record; a save whose lease was lost is fenced and keeps the lock", async () => {
      const [one, other, watcher] = [backend.open(), backend.open(), backend.open()];
      const name = `released.${backend.kind}.test`;
      const heard = Promise.withResolvers<StoredLineage | undefined>();
      const stop = await watcher.watch!((announced, whole) => announced === name && heard.resolve(whole));
      await using([one, other, watcher], async () => {
        const held = await one.lock(name);
        await one.save(lineage(name, "0C"), held, { releaseLock: true });
        const next = await other.lock(name, { waitMs: 0 }); // free at once: no wait, no LockHeldError
        await held.release(); // the first holder's release after its save: must not end the next holder's lock
        expect(await one.lock(name, { waitMs: 0 }).catch((error: unknown) => error)).toBeInstanceOf(LockHeldError);
        expect(await heard.promise).toEqual(lineage(name, "0C"));
        expect(await other.load(name)).toEqual(lineage(name, "0C"));
        // The first holder saving again with its spent lock: fenced, the next holder's lock and the record untouched.
        const fenced = await one.save(lineage(name, "0D"), held, { releaseLock: true }).catch((error: unknown) => error);
        expect((fenced as StoreError).code).toBe("ERR_STORE_FENCED");
        expect(await one.lock(name, { waitMs: 0 }).catch((error: unknown) => error)).toBeInstanceOf(LockHeldError);
        expect((await other.load(name))!.meta.serial).toBe("0C");
        await next.release();
        await stop();
      });
    });

    test("a lock released without a save is announced as released (to onRelease, not as a save), once, by its holder only; a lock ended by its save is announced as the save alone", async () => {
      const [one, other, watcher] = [backend.open(), backend.open(), backend.open()];
      const [failed, saved] = [`unsaved.${backend.kind}.test`, `saved.${backend.kind}.test`];
      const releases: string[] = [];
      const saves: string[] = [];
      const heardSave = Promise.withResolvers<void>();
      const stop = await watcher.watch!((name) => {
        saves.push(name);
        if (name === saved) heardSave.resolve();
      }, (name) => releases.push(name));
      expect(watcher.announcesReleases).toBe(true);
      await using([one, other, watcher], async () => {
        const held = await one.lock(failed); // its holder fails: nothing saved
        await held.release();
        await held.release(); // no longer its own: ends nothing, announces nothing
        const kept = await other.lock(saved);
        await other.save(lineage(saved), kept, { releaseLock: true });
        await kept.release(); // ended by the save: sends nothing
        await heardSave.promise;
        // Announcements come in order on one channel: the save heard, the release before it was too.
        expect(releases).toEqual([failed]);
        expect(saves).toEqual([saved]);
        await stop();
      });
    });

    test("challenge answers published by one instance are read by another, until withdrawn", async () => {
      const one = backend.open();
      const other = backend.open();
      await using([one, other], async () => {
        await one.sharedChallenges!().publish("tok-1", "tok-1.thumb", 60_000);
        expect(await other.sharedChallenges!().answer("tok-1")).toBe("tok-1.thumb");
        await one.sharedChallenges!().withdraw("tok-1");
        expect(await other.sharedChallenges!().answer("tok-1")).toBeUndefined();
      });
    });

    test("the lock is exclusive, names its holder, and is kept past its lease while held", async () => {
      const first = backend.open({ leaseMs: 300 });
      const second = backend.open({ leaseMs: 300 });
      await using([first, second], async () => {
        const held = await first.lock(`l.${backend.kind}.test`);
        await Bun.sleep(900); // three leases pass (time, not an event): the holder renews meanwhile
        const error = await second.lock(`l.${backend.kind}.test`, { waitMs: 200 }).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(LockHeldError);
        expect((error as LockHeldError).holder?.pid).toBe(process.pid);
        expect(held.signal?.aborted).toBe(false); // renewed all along: not lost
        await held.release();
        await (await second.lock(`l.${backend.kind}.test`, { waitMs: 200 })).release();
      });
    });

    const holder = (leaseMs: number, stored: StoredLineage) => {
      const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "support", "store-lock-holder.ts"), backend.kind, backend.url(), String(leaseMs), JSON.stringify(stored)],
        { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
      return { child, lines: new LineReader(child.stdout) };
    };

    test("a holder killed with SIGKILL: another takes the lock once the lease ends", async () => {
      const { child, lines } = holder(800, lineage(`killed.${backend.kind}.test`));
      await lines.waitFor((line) => line === "locked", 10_000);
      child.kill("SIGKILL");
      await child.exited;
      const store = backend.open();
      await using([store], async () => {
        const started = Date.now();
        await (await store.lock(`killed.${backend.kind}.test`, { waitMs: 5_000 })).release();
        expect(Date.now() - started).toBeLessThan(5_000);
      });
    });

    test("a holder stalled past its lease (SIGSTOP) while another took over: on waking it learns the lock is lost (its signal aborts), its save is fenced, the newer lineage stays", async () => {
      const { child, lines } = holder(500, lineage(`stalled.${backend.kind}.test`, "01"));
      await lines.waitFor((line) => line === "locked", 10_000);
      child.kill("SIGSTOP");
      const store = backend.open();
      try {
        await using([store], async () => {
          const taken = await store.lock(`stalled.${backend.kind}.test`, { waitMs: 5_000 });
          await store.save(lineage(`stalled.${backend.kind}.test`, "02"), taken);
          child.kill("SIGCONT");
          // Its next lease renewal is refused: the lock's signal aborts, so work under it stops before any save.
          expect(await lines.waitFor((line) => line.startsWith("lost "), 5_000)).toBe("lost ERR_STORE_LOCK_LOST");
          child.stdin.write("save\n");
          child.stdin.flush();
          expect(await lines.waitFor((line) => line === "saved" || line.startsWith("ERR_"), 10_000)).toBe("ERR_STORE_FENCED");
          expect((await store.load(`stalled.${backend.kind}.test`))?.meta.serial).toBe("02");
          await taken.release();
        });
      } finally {
        child.kill();
      }
    });
  });
}

describe("the postgres store on a fresh database", () => {
  test("six instances creating the tables at once all succeed (concurrent CREATE TABLE IF NOT EXISTS races in PostgreSQL)", async () => {
    const url = await postgres.database("fresh_race");
    const stores = Array.from({ length: 6 }, () => new PostgresCertificateStore(url));
    try {
      const results = await Promise.allSettled(stores.map((store) => store.list()));
      expect(results.map((result) => result.status)).toEqual(Array(6).fill("fulfilled"));
    } finally {
      for (const store of stores) await store.close();
    }
  });
});

describe("the shared stores across a restart of their server", () => {
  test("redis (append-only file on): a command sent during a short restart completes; down longer: StoreUnavailableError in seconds; back: the same store works, nothing lost, announcements heard again", async () => {
    const restarting = await startRedis(16382, { aof: true });
    const store = new RedisCertificateStore(restarting.url);
    const heard: string[] = [];
    const stopWatching = await store.watch((name) => heard.push(name));
    try {
      await store.save(lineage("restart.redis.test"));
      await restarting.stop();
      const whileDown = store.load("restart.redis.test"); // queued by Bun's client while it reconnects
      await restarting.restart();
      expect((await whileDown)?.meta.serial).toBe("0A");

      await restarting.stop();
      const started = Date.now();
      const error = await store.load("restart.redis.test").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toStartWith("Cannot reach the Redis store redis://127.0.0.1:16382/bun-acme:");
      expect(Date.now() - started).toBeLessThan(10_000);
      await restarting.restart();
      expect(await store.list()).toEqual(["restart.redis.test"]);
      await store.save(lineage("after.redis.test"));
      await waitUntil(() => heard.includes("after.redis.test"), "the save after the restart was not announced to the watcher");
    } finally {
      await stopWatching();
      store.close();
      await restarting.stop();
    }
  });

  test("postgres: statements after a restart succeed (pooled connections the restart closed are replaced); down: StoreUnavailableError; back: works, nothing lost, announcements heard again", async () => {
    const restarting = await startPostgres(16434);
    const store = new PostgresCertificateStore(restarting.url);
    const heard: string[] = [];
    const stopWatching = await store.watch((name) => heard.push(name));
    try {
      await Promise.all(["a", "b", "c", "d"].map((label) => store.save(lineage(`${label}.restart.postgres.test`)))); // several pooled connections
      await restarting.restart();
      expect(await store.list()).toHaveLength(4);
      expect((await store.load("a.restart.postgres.test"))?.meta.serial).toBe("0A");

      await restarting.stop();
      const error = await store.load("a.restart.postgres.test").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as Error).message).toStartWith("Cannot reach the PostgreSQL store postgres://postgres@127.0.0.1:16434/postgres:");
      await restarting.start();
      expect(await store.list()).toHaveLength(4);
      // Bun listens again on its own schedule; saves made before that reach nobody (manage() checks periodically for them).
      const back = Date.now();
      while (!heard.includes("after.restart.postgres.test") && Date.now() - back < 10_000) {
        await store.save(lineage("after.restart.postgres.test"));
        await Bun.sleep(200);
      }
      expect(heard).toContain("after.restart.postgres.test");
    } finally {
      await stopWatching();
      await store.close();
      await restarting.stop();
    }
  });
});

/** Polls `condition` every 20 ms for up to 5 s. */
async function waitUntil(condition: () => boolean, failure: string, limitMs = 5_000): Promise<void> {
  for (const started = Date.now(); !condition(); await Bun.sleep(20)) {
    if (Date.now() - started > limitMs) throw new Error(failure);
  }
}
