/**
 * manage()'s scheduler (the Renewer) at start on the real shared stores (redis-server and
 * PostgreSQL 15 from Debian), with the FAKE CA and a fake clock for the renewer's own waits: how
 * many locks held by another instance it meets, and when it tries them again. The "other
 * instance" is a second store client taking, releasing and saving under the same locks.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readCertificate } from "../../src/asn1/index.ts";
import { decodePemBlocks, toHex } from "../../src/encoding/index.ts";
import { stampEvent } from "../../src/lifecycle/index.ts";
import type { ManageEvent } from "../../src/manage/events.ts";
import { Renewer, type CertificateServer } from "../../src/manage/renewer.ts";
import type { ServedCertificate } from "../../src/servers/index.ts";
import { PostgresCertificateStore, RedisCertificateStore, type CertificateStore, type StoreLock } from "../../src/store/index.ts";
import { configFor, engineWorld } from "../support/engine.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(30_000);

let redis: Redis;
let postgres: Postgres;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(16381), startPostgres(16434)]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), postgres?.stop()]);
});

type Store = CertificateStore & { close(): Promise<void> | void };
const BACKENDS: readonly { readonly kind: "redis" | "postgres"; open(): Store }[] = [
  { kind: "redis", open: () => new RedisCertificateStore(redis.url) },
  { kind: "postgres", open: () => new PostgresCertificateStore(postgres.url) },
];

/** A FAKE CertificateServer: keeps the last set of certificates manage() would serve (no socket). */
class RecordingServer implements CertificateServer {
  readonly port = 0;
  last: readonly ServedCertificate[] = [];
  async serve(certificates: readonly ServedCertificate[]): Promise<void> {
    this.last = certificates;
  }
  async stop(): Promise<void> {}
  serialFor(name: string): string | undefined {
    const certificate = this.last.find((candidate) => candidate.names.includes(name));
    return certificate ? toHex(readCertificate(decodePemBlocks(certificate.chainPem)[0]!.der).serialNumber).replace(/^(00)+(?=.)/, "").toUpperCase() : undefined;
  }
}

/** Counts the lock tries of each name through `store`. */
function countTries(store: CertificateStore): Map<string, number> {
  const tries = new Map<string, number>();
  const lock = store.lock.bind(store);
  store.lock = (...args: Parameters<CertificateStore["lock"]>) => {
    tries.set(args[0], (tries.get(args[0]) ?? 0) + 1);
    return lock(...args);
  };
  return tries;
}

/** Gives real work (store round trips, signatures) its turns until `done`, for `ms` at most, the fake clock standing still. */
async function turnsUntil(done: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 5));
}

for (const backend of BACKENDS) {
  describe(`Renewer at start on the ${backend.kind} store`, () => {
    test("a lock held elsewhere is not tried again while held (the lease not run out), and is tried at once when its holder releases it without a save", async () => {
      const world = engineWorld();
      const [store, other] = [backend.open(), backend.open()];
      const config = configFor(`failing.${backend.kind}.test`);
      const held = await other.lock(config.name); // another instance is obtaining it, and will fail
      const tries = countTries(store);
      const server = new RecordingServer();
      const renewer = new Renewer({ store, issuer: world.issuer(), https: server, clock: world.clock, emit: () => {}, random: () => 0.5, checkIntervalMs: 86_400_000 });
      let started = false;
      const start = renewer.start([{ config, serve: true }]).then(() => void (started = true));
      await turnsUntil(() => tries.get(config.name) === 1 && world.clock.pending() >= 2);
      // 25 s of the clock with the lock held and renewed (its lease is 30 s): no try, where polling tried after 2, 6, 14 and 24 s.
      for (let elapsed = 0; elapsed < 25_000; elapsed += 500) {
        world.clock.advance(500);
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(tries.get(config.name)).toBe(1);
      const clockAtRelease = world.clock.now();
      await held.release(); // it failed: nothing saved, the release announced
      await turnsUntil(() => started);
      expect(started).toBe(true); // without the clock moving: the announcement ended the wait
      expect(world.clock.now() - clockAtRelease).toBeLessThan(1_000); // (the fake CA's polls move it a little)
      await start;
      expect(tries.get(config.name)).toBe(2);
      expect(world.orders()).toBe(1);
      expect(server.serialFor(config.name)).toBe((await store.load(config.name))!.meta.serial);
      await renewer.stop();
      await Promise.all([store.close(), other.close()]);
    });

    test("meeting another instance's lock, it leaves the certificates next to it (likely that instance's) to be awaited: one held lock met, not each, and the other's saves taken up unread", async () => {
      // Orders ready at once: no polls, so the fake clock stands still unless the test moves it.
      const world = engineWorld({ authorizationsAlreadyValid: true });
      const [store, other] = [backend.open(), backend.open()];
      const names = Array.from({ length: 12 }, (_, index) => `q${index}.${backend.kind}.test`);
      // The other instance works on four certificates in a row, as an instance walking the list does.
      const theirs = names.slice(4, 8);
      const locks = new Map<string, StoreLock>();
      for (const name of theirs) locks.set(name, await other.lock(name));
      const tries = countTries(store);
      const events: ManageEvent[] = [];
      const server = new RecordingServer();
      const renewer = new Renewer({
        store, issuer: world.issuer(), https: server, clock: world.clock, concurrency: 1, random: () => 0, checkIntervalMs: 86_400_000,
        emit: (event) => events.push(stampEvent<ManageEvent>(event, world.clock.now())),
      });
      let started = false;
      const clockAtStart = world.clock.now();
      const start = renewer.start(names.map((name) => ({ config: configFor(name), serve: true }))).then(() => void (started = true));
      await turnsUntil(() => events.filter((event) => event.type === "obtained").length === 8);
      await turnsUntil(() => false, 200); // nothing more is tried meanwhile
      expect(world.clock.now()).toBe(clockAtStart);
      const met = theirs.filter((name) => tries.has(name));
      expect(met.length).toBe(1); // meeting each in turn costs a store command each
      // The other instance saves its four: each wait ends with the announcement, nothing read, nothing ordered here.
      const holder = world.issuer();
      for (const name of theirs) await other.save(await holder.obtain(configFor(name)), locks.get(name), { releaseLock: true });
      await turnsUntil(() => started);
      expect(started).toBe(true);
      await start;
      expect(theirs.filter((name) => tries.has(name))).toEqual(met);
      expect(world.orders()).toBe(12);
      for (const name of names) expect(server.serialFor(name)).toBe((await store.load(name))!.meta.serial);
      await renewer.stop();
      await Promise.all([store.close(), other.close()]);
    });
  });
}
