/**
 * manage()'s scheduler (the Renewer) on the lifecycle engine, with the FAKE CA, a fake clock and
 * the memory store, in milliseconds: start during an outage (placeholder, backoff, then the
 * certificate), jitter, a damaged or expired lineage at start, and renewals exactly once between
 * instances that share a store and hear each other's announcements.
 */
import { describe, expect, test } from "bun:test";
import type { ChallengeSolver } from "../../src/acme/index.ts";
import { readCertificate } from "../../src/asn1/index.ts";
import { decodePemBlocks, toHex } from "../../src/encoding/index.ts";
import { ensureLineage, stampEvent, type EventOf } from "../../src/lifecycle/index.ts";
import type { ManageEvent } from "../../src/manage/events.ts";
import { OnDemand } from "../../src/manage/on-demand.ts";
import { Renewer, type AddedSlot, type CertificateServer } from "../../src/manage/renewer.ts";
import { isKeyChecked, type ServedCertificate } from "../../src/servers/index.ts";
import type { CertificateStore, LineageConfig, StoredLineage, StoreError } from "../../src/store/index.ts";
import { configFor, engineWorld } from "../support/engine.ts";

const DAY = 86_400_000;
type World = ReturnType<typeof engineWorld>;

/** A FAKE CertificateServer: records every set of certificates manage() would serve (no socket). */
class RecordingServer implements CertificateServer {
  readonly port = 0;
  readonly served: (readonly ServedCertificate[])[] = [];
  async serve(certificates: readonly ServedCertificate[]): Promise<void> {
    this.served.push(certificates);
  }
  async stop(): Promise<void> {}
  /** The serial served now for `name` (undefined: the placeholder). */
  serialFor(name: string): string | undefined {
    const certificate = this.served.at(-1)?.find((candidate) => candidate.names.includes(name));
    return certificate ? toHex(readCertificate(decodePemBlocks(certificate.chainPem)[0]!.der).serialNumber).replace(/^(00)+(?=.)/, "").toUpperCase() : undefined;
  }
}

function instance(world: World, options: { random?: number; retry?: { baseDelayMs: number; maxDelayMs: number }; checkIntervalMs?: number; concurrency?: number; solver?: ChallengeSolver; store?: CertificateStore; onDemand?: boolean } = {}) {
  const server = new RecordingServer();
  const events: ManageEvent[] = [];
  const renewer = new Renewer({
    store: options.store ?? world.store,
    issuer: world.issuer(options.solver),
    https: server,
    clock: world.clock,
    emit: (event) => events.push(stampEvent<ManageEvent>(event, world.clock.now())),
    random: () => options.random ?? 0.5,
    checkIntervalMs: options.checkIntervalMs ?? 1_000 * DAY,
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.onDemand ? { configFor: (names: readonly string[]) => configFor(...names) } : {}),
  });
  return { server, events, renewer, of: <Type extends ManageEvent["type"]>(type: Type) => events.filter((event): event is EventOf<Type> => event.type === type) };
}

/** Counts the store's locks held at once (taken, not yet released), and the most seen. */
function countLocks(store: CertificateStore): { held: () => number; most: () => number; names: () => Set<string> } {
  const held = new Set<object>();
  const names = new Set<string>();
  let most = 0;
  const original = store.lock.bind(store);
  store.lock = async (...args: Parameters<CertificateStore["lock"]>) => {
    const lock = await original(...args);
    const mark = {};
    held.add(mark);
    names.add(args[0]);
    most = Math.max(most, held.size);
    return { ...lock, release: async () => {
      held.delete(mark);
      await lock.release();
    } } as typeof lock;
  };
  return { held: () => held.size, most: () => most, names: () => names };
}

/** Gives the work in progress its turns (signatures take real time) until `done`, for 3 s at most, the fake clock standing still. */
/** How many times the store's lock of `name` has been tried from now on. */
function countTries(store: CertificateStore, name: string): () => number {
  let tries = 0;
  const lock = store.lock.bind(store);
  store.lock = (...args: Parameters<CertificateStore["lock"]>) => {
    if (args[0] === name) tries++;
    return lock(...args);
  };
  return () => tries;
}

async function turnsUntil(done: () => boolean): Promise<void> {
  const end = Date.now() + 3_000;
  while (!done() && Date.now() < end) await new Promise((resolve) => setImmediate(resolve));
}

/** Fires the next timers and waits for the work they started, in every instance. */
async function step(world: World, renewers: readonly Renewer[]): Promise<void> {
  world.clock.runNext();
  for (let round = 0; round < 3; round++) await Promise.all(renewers.map((renewer) => renewer.settled()));
}

describe("Renewer (manage()'s scheduler) on the engine", () => {
  test("start while the CA is unreachable: it starts anyway with the placeholder, retries with capped exponential backoff, and serves the certificate once the CA answers", async () => {
    const world = engineWorld();
    const config = configFor("a.fake.test");
    world.setDown(true);
    const one = instance(world, { retry: { baseDelayMs: 60_000, maxDelayMs: 200_000 } });
    await one.renewer.start([{ config, serve: true }]);
    expect(one.server.served[0]).toEqual([]); // serving from the start, with the placeholder for a.fake.test
    for (let attempt = 0; attempt < 3; attempt++) await step(world, [one.renewer]);
    const failures = one.of("failed");
    expect(failures.map((event) => Date.parse(event.at!) - Date.parse(event.time))).toEqual([60_000, 120_000, 200_000, 200_000]);
    expect(failures[0]!.lineage).toBe("a.fake.test");
    world.setDown(false);
    await step(world, [one.renewer]);
    expect(one.of("obtained")).toHaveLength(1);
    expect(one.server.serialFor("a.fake.test")).toBe(one.of("obtained")[0]!.serial!);
    await one.renewer.stop();
  });

  test("the renewal is scheduled at the renewal time plus jitter (1 % of the lifetime, at most an hour), and happens then", async () => {
    const world = engineWorld();
    const config = configFor("a.fake.test");
    const one = instance(world, { random: 0.25 });
    await one.renewer.start([{ config, serve: true }]);
    const next = one.of("next_renewal")[0]!;
    expect(world.clock.nextAt()).toBe(Date.parse(next.at!) + 0.25 * 3_600_000); // 1 % of 7 days is more than an hour
    await step(world, [one.renewer]);
    expect(one.of("renewed")).toHaveLength(1);
    expect(world.orders()).toBe(2);
    await one.renewer.stop();
  });

  test("at start, what is missing is obtained at most `concurrency` at a time, and each certificate is served as soon as it arrives", async () => {
    const world = engineWorld();
    let inFlight = 0;
    let most = 0;
    const counting: ChallengeSolver = {
      type: "http-01",
      present: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setImmediate(resolve)); // the others get their turn meanwhile
      },
      cleanup: () => void inFlight--,
    };
    const names = ["c1", "c2", "c3", "c4", "c5"].map((name) => `${name}.fake.test`);
    const one = instance(world, { concurrency: 2, solver: counting });
    await one.renewer.start(names.map((name) => ({ config: configFor(name), serve: true })));
    expect(most).toBe(2);
    expect(one.server.served[0]).toEqual([]);
    const sizes = one.server.served.map((certificates) => certificates.length);
    expect(sizes.at(-1)).toBe(5);
    expect(sizes.filter((size) => size > 0 && size < 5).length).toBeGreaterThan(0); // served before the last one arrived
    await one.renewer.stop();
  });

  test("one limiter for every kind of renewal work: twelve certificates failing at start and retried, then obtained and renewed, never hold more than `concurrency` locks at once", async () => {
    const world = engineWorld();
    const locks = countLocks(world.store);
    const names = Array.from({ length: 12 }, (_, index) => `l${index}.fake.test`);
    const one = instance(world, { concurrency: 3, retry: { baseDelayMs: 60_000, maxDelayMs: 240_000 } });
    const until = async (done: () => boolean) => {
      for (let steps = 0; !done() && steps < 200; steps++) await step(world, [one.renewer]);
    };
    world.setDown(true);
    await one.renewer.start(names.map((name) => ({ config: configFor(name), serve: true })));
    expect(one.of("failed")).toHaveLength(12);
    // Each failed attempt's connection retries sleep on the clock, so the retry timers of the others come due meanwhile.
    await until(() => one.of("failed").length >= 48);
    expect(locks.names().size).toBe(12); // every certificate was tried, under its lock
    expect(locks.most()).toBe(3);
    for (const name of names) {
      const delays = one.of("failed").filter((event) => event.lineage === name).map((event) => Date.parse(event.at!) - Date.parse(event.time));
      expect(delays.slice(0, 4)).toEqual([60_000, 120_000, 240_000, 240_000]); // each certificate keeps its own backoff
    }
    world.setDown(false);
    await until(() => one.of("obtained").length === 12);
    expect(world.orders()).toBe(12);
    await until(() => one.of("renewed").length === 12); // the renewals, come due
    expect(world.orders()).toBe(24);
    expect(locks.most()).toBe(3);
    expect(locks.held()).toBe(0);
    for (const name of names) expect(one.server.serialFor(name)).toBe((await world.store.load(name))!.meta.serial);
    await one.renewer.stop();
  });

  test("an on-demand name waits for the limiter like any renewal work, holding no lock meanwhile, and is obtained when a turn is free", async () => {
    const world = engineWorld();
    let open: () => void = () => {};
    let reached: () => void = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const presented = new Promise<void>((resolve) => (reached = resolve));
    // The first certificate's challenge is held open: its engine run keeps the one turn (and its lock) until the test lets go.
    const slow: ChallengeSolver = {
      type: "http-01",
      present: (identifier) => (identifier.value === "slow.fake.test" ? (reached(), gate) : undefined),
      cleanup: () => {},
    };
    const one = instance(world, { concurrency: 1, solver: slow, onDemand: true });
    const started = one.renewer.start([{ config: configFor("slow.fake.test"), serve: true }]);
    await presented;
    expect(world.store.isLocked("slow.fake.test")).toBe(true);
    let added = false;
    const onDemand = one.renewer.addSlot(["new.fake.test"]).then((served) => ((added = true), served));
    for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    expect(world.store.isLocked("new.fake.test")).toBe(false); // waiting its turn, not holding the lock
    expect(added).toBe(false);
    expect(world.orders()).toBe(1); // the slow one's
    open();
    await started;
    expect((await onDemand).served.names).toEqual(["new.fake.test"]);
    expect(world.orders()).toBe(2);
    expect(one.of("obtained").map((event) => event.lineage)).toEqual(["slow.fake.test", "new.fake.test"]);
    await one.renewer.stop();
  });

  test("an on-demand name whose lock another instance holds is awaited without a turn of the limiter: another name is obtained meanwhile, and the first is served the holder's certificate once it saves", async () => {
    const world = engineWorld();
    const one = instance(world, { concurrency: 1, onDemand: true });
    await one.renewer.start([]); // hearing the store's announcements
    const held = configFor("held.fake.test");
    const lock = await world.store.lock(held.name); // another instance is obtaining it
    let first: AddedSlot | undefined;
    let second: AddedSlot | undefined;
    const idle = world.clock.pending(); // the periodic check of the store
    const waiting = one.renewer.addSlot([held.name]).then((added) => (first = added));
    await turnsUntil(() => world.clock.pending() > idle); // its lock found taken: waiting for the holder
    // The clock stands still: a turn held while waiting for the lock (120 s of it) would never come back.
    void one.renewer.addSlot(["free.fake.test"]).then((added) => (second = added));
    await turnsUntil(() => second !== undefined);
    expect(second?.served.names).toEqual(["free.fake.test"]);
    expect(second?.ordered).toBe(true);
    expect(first).toBeUndefined();
    const theirs = await world.issuer().obtain(held);
    await world.store.save(theirs, lock);
    await lock.release();
    await turnsUntil(() => first !== undefined);
    await waiting;
    expect(first!.ordered).toBe(false);
    expect(one.server.serialFor(held.name)).toBe(theirs.meta.serial); // served, and renewed like the others
    expect(first!.served.chainPem).toBe(theirs.chainPem);
    expect(world.orders()).toBe(2); // free.fake.test's here, held.fake.test's by the holder
    expect(one.renewer.slots.map((slot) => slot.config.name).sort()).toEqual(["free.fake.test", "held.fake.test"]);
    await one.renewer.stop();
  });

  test("an on-demand name locked elsewhere: a holder that fails lets this instance order it after a pause; one that never lets go ends the wait after 120 s with ERR_STORE_LOCKED", async () => {
    const world = engineWorld();
    const one = instance(world, { concurrency: 1, onDemand: true });
    await one.renewer.start([]);
    const idle = world.clock.pending(); // the periodic check of the store
    const lock = await world.store.lock("failed.fake.test");
    let added: AddedSlot | undefined;
    void one.renewer.addSlot(["failed.fake.test"]).then((result) => (added = result));
    await turnsUntil(() => world.clock.pending() > idle); // its lock found taken: waiting for the holder
    await lock.release(); // the holder failed: it saved nothing, and announced nothing
    world.clock.advance(500); // the first pause (a store without leases)
    await turnsUntil(() => added !== undefined);
    expect(added?.ordered).toBe(true);
    expect(world.orders()).toBe(1);
    const stuck = await world.store.lock("stuck.fake.test");
    let error: StoreError | undefined;
    void one.renewer.addSlot(["stuck.fake.test"]).catch((caught: StoreError) => (error = caught));
    await turnsUntil(() => world.clock.pending() > idle + 1);
    const waitedFrom = world.clock.now();
    while (error === undefined && world.clock.now() - waitedFrom < 200_000) {
      world.clock.advance(1_000);
      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(error?.code).toBe("ERR_STORE_LOCKED");
    expect(error?.message).toBe("Lineage stuck.fake.test is locked by another instance past 120 s");
    expect(world.clock.now() - waitedFrom).toBeGreaterThanOrEqual(120_000);
    expect(world.clock.now() - waitedFrom).toBeLessThanOrEqual(122_000);
    expect(one.renewer.slots.map((slot) => slot.config.name)).toEqual(["failed.fake.test"]); // not kept: the next handshake tries again
    await stuck.release();
    await one.renewer.stop();
  });

  test("on demand through the renewer: 12 names the memory store holds (a restart), maxPerMinute 10, asked at once: all 12 served with nothing ordered; then 12 new names: 10 obtained, 2 refused", async () => {
    const world = engineWorld();
    const stored = Array.from({ length: 12 }, (_, index) => `kept${index}.fake.test`);
    for (const name of stored) await ensureLineage(world.store, configFor(name), world.issuer());
    expect(world.orders()).toBe(12);
    const one = instance(world, { onDemand: true });
    await one.renewer.start([]);
    const gate = new OnDemand({ allow: () => true, maxPerMinute: 10 }, "http-01", (event) => one.events.push(stampEvent<ManageEvent>(event, world.clock.now())), world.clock);
    const work = { held: (names: readonly string[]) => one.renewer.storeHolds(names), add: (names: readonly string[]) => one.renewer.addSlot(names) };
    const served = await Promise.all(stored.map((name) => gate.certificateFor(name, work)));
    expect(served.map((certificate) => certificate?.names[0])).toEqual(stored);
    for (const [index, name] of stored.entries()) expect(served[index]?.chainPem).toBe((await world.store.load(name))!.chainPem);
    expect(world.orders()).toBe(12); // loaded, not ordered again
    const fresh = Array.from({ length: 12 }, (_, index) => `new${index}.fake.test`);
    const obtained = await Promise.all(fresh.map((name) => gate.certificateFor(name, work)));
    expect(obtained.filter(Boolean)).toHaveLength(10);
    expect(world.orders()).toBe(22);
    expect(one.of("warning").filter((event) => event.message.includes("refused"))).toHaveLength(2);
    await one.renewer.stop();
  });

  test("a renewal whose lock another instance holds is awaited without a turn of the limiter: the next renewal due goes ahead at its time, and the other's save is taken up", async () => {
    const world = engineWorld();
    const [held, free] = [configFor("held.fake.test"), configFor("free.fake.test")];
    const one = instance(world, { concurrency: 1 });
    // The start takes the second first (random 0.5): held.fake.test is obtained first, and so comes due first.
    await one.renewer.start([{ config: free, serve: true }, { config: held, serve: true }]);
    expect(one.of("obtained").map((event) => event.lineage)).toEqual([held.name, free.name]);
    const dueAt = world.clock.nextAt()!; // the same jitter for both: they come due within milliseconds, held.fake.test first
    const lock = await world.store.lock(held.name); // another instance is renewing held.fake.test
    world.clock.advance(dueAt + 1_000 - world.clock.now());
    // The clock stands still (a lock waited for holds on for 120 s of it): a turn held while waiting would not come back.
    await turnsUntil(() => one.of("renewed").length > 0);
    expect(one.of("renewed").map((event) => event.lineage)).toEqual([free.name]);
    expect(Date.parse(one.of("renewed")[0]!.time) - dueAt).toBeLessThan(2_000);
    const theirs = await world.issuer().obtain(held);
    await world.store.save(theirs, lock);
    await lock.release();
    await turnsUntil(() => one.of("updated").length > 0);
    expect(one.of("updated").map((event) => event.lineage)).toEqual([held.name]);
    expect(one.server.serialFor(held.name)).toBe(theirs.meta.serial);
    expect(world.orders()).toBe(4); // two at start, free.fake.test's renewal here, held.fake.test's there
    await one.renewer.stop();
  });

  test("with ARI, the renewer wakes when the CA's Retry-After passes, asks again, and orders nothing while the window is ahead", async () => {
    const world = engineWorld({ renewalInfo: { start: "2026-01-05T00:00:00Z", end: "2026-01-05T01:00:00Z" } });
    const one = instance(world, { random: 0 });
    await one.renewer.start([{ config: configFor("ari.fake.test"), serve: true }]);
    const asked = () => world.ca.requests.filter((request) => request.startsWith("GET /renewal-info/")).length;
    const askedAtStart = asked();
    expect(world.clock.nextAt()).toBe(world.clock.now() + 6 * 3_600_000); // Retry-After: 6 hours, before the window
    await step(world, [one.renewer]);
    expect(asked()).toBe(askedAtStart + 1);
    expect(world.orders()).toBe(1);
    expect(world.clock.nextAt()).toBe(world.clock.now() + 6 * 3_600_000);
    await one.renewer.stop();
  });

  test("a damaged lineage at start is reported by name, not served, and obtained again; the whole one is served from the first moment", async () => {
    const world = engineWorld();
    const [good, bad] = [configFor("good.fake.test"), configFor("bad.fake.test")];
    const issuer = world.issuer();
    const kept = (await ensureLineage(world.store, good, issuer)).lineage!;
    const damaged = (await ensureLineage(world.store, bad, issuer)).lineage!;
    await world.store.save({ ...damaged, chainPem: kept.chainPem }); // another site's fullchain copied over it
    const one = instance(world);
    await one.renewer.start([{ config: good, serve: true }, { config: bad, serve: true }]);
    expect(one.server.served[0]!.map((certificate) => certificate.names[0])).toEqual(["good.fake.test"]);
    expect(one.server.served[0]!.map((certificate) => isKeyChecked(certificate))).toEqual([true]); // checked whole here: the HTTPS server need not import the key again
    expect(one.of("damaged").map((event) => event.lineage)).toContain("bad.fake.test");
    expect(one.of("damaged")[0]!.message).toContain("another key than the lineage's private key");
    expect(one.of("obtained").map((event) => event.lineage)).toEqual(["bad.fake.test"]);
    expect(one.server.serialFor("bad.fake.test")).toBe(one.of("obtained")[0]!.serial!);
    expect(one.server.serialFor("good.fake.test")).toBe(kept.meta.serial);
    await one.renewer.stop();
  });

  test("a damaged lineage announced while running (another site's chain saved over it) is not taken up: reported by name, obtained again; the other site is untouched", async () => {
    const world = engineWorld();
    const [x, y] = [configFor("x.fake.test"), configFor("y.fake.test")];
    const one = instance(world);
    await one.renewer.start([{ config: x, serve: true }, { config: y, serve: true }]);
    const [servedX, servedY] = [one.server.serialFor("x.fake.test")!, one.server.serialFor("y.fake.test")!];
    const storedY = (await world.store.load("y.fake.test"))!;
    const storedX = (await world.store.load("x.fake.test"))!;
    const tampered = { ...storedX, chainPem: storedY.chainPem, meta: { ...storedY.meta } }; // announced like any save
    await world.store.save({ ...tampered, config: x });
    await Promise.resolve(); // the announcement arrives
    await one.renewer.settled();
    expect(world.clock.nextAt()).toBe(world.clock.now()); // the re-obtain, scheduled at once
    await step(world, [one.renewer]);
    expect(new Set(one.of("damaged").map((event) => event.lineage))).toEqual(new Set(["x.fake.test"])); // found, then replaced
    expect(one.of("updated")).toEqual([]);
    expect(one.of("obtained").filter((event) => event.lineage === "x.fake.test")).toHaveLength(2);
    expect(one.server.serialFor("x.fake.test")).not.toBe(servedX);
    expect(one.server.serialFor("x.fake.test")).not.toBe(servedY);
    expect(one.server.serialFor("y.fake.test")).toBe(servedY);
    await one.renewer.stop();
  });

  test("an expired stored certificate is served at start with a warning, then renewed", async () => {
    const world = engineWorld();
    const config = configFor("old.fake.test");
    const stored = (await ensureLineage(world.store, config, world.issuer())).lineage!;
    world.clock.advance(8 * DAY);
    world.setDown(true);
    const one = instance(world);
    await one.renewer.start([{ config, serve: true }]);
    expect(one.server.serialFor("old.fake.test")).toBe(stored.meta.serial);
    expect(one.of("warning")[0]!.message).toContain("expired at");
    expect(one.of("expired")).toHaveLength(1);
    world.setDown(false);
    await step(world, [one.renewer]);
    expect(one.of("renewed")).toHaveLength(1);
    expect(one.server.serialFor("old.fake.test")).not.toBe(stored.meta.serial);
    await one.renewer.stop();
  });

  test("a fleet started together: the store is read once per instance at start (loadMany), each certificate ordered once, and what others saved is taken up from the announcement, unread", async () => {
    const world = engineWorld();
    const names = Array.from({ length: 12 }, (_, index) => `f${index}.fake.test`);
    const wanted = names.map((name) => ({ config: configFor(name), serve: true }));
    const calls = { loadMany: 0, load: 0, summary: 0 };
    for (const method of ["loadMany", "load", "summary"] as const) {
      const original = world.store[method].bind(world.store) as (...args: never[]) => Promise<unknown>;
      (world.store as unknown as Record<string, unknown>)[method] = (...args: never[]) => {
        calls[method]++;
        return original(...args);
      };
    }
    const instances = [0.1, 0.45, 0.8].map((random) => instance(world, { random, concurrency: 2, checkIntervalMs: 3_600_000 }));
    let started = 0;
    const starts = instances.map((one) => one.renewer.start(wanted).then(() => void started++));
    // What one instance guessed another holds is tried after a pause: the clock moves 100 ms at a time until every start is done.
    while (started < instances.length) {
      world.clock.advance(100);
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(starts);
    await Promise.all(instances.map((one) => one.renewer.settled()));
    expect(world.orders()).toBe(names.length);
    expect(calls.loadMany).toBe(3);
    expect(calls.summary).toBe(0);
    // One read under the lock per certificate, and one per lock found taken that was then waited for: never one per instance and certificate.
    expect(calls.load).toBeLessThan(names.length * 2);
    const obtained = instances.map((one) => one.of("obtained").length);
    expect(obtained.reduce((sum, count) => sum + count, 0)).toBe(names.length);
    expect(obtained.filter((count) => count > 0).length).toBeGreaterThan(1); // the work was split
    for (const name of names) {
      const stored = (await world.store.load(name))!.meta.serial;
      for (const one of instances) expect(one.server.serialFor(name)).toBe(stored);
    }
    for (const one of instances) await one.renewer.stop();
  });

  test("waiting at start for another instance's lock ends within 2 s of its release: its save taken up though the announcement was lost, what a failed or dead holder left undone ordered once", async () => {
    const world = engineWorld();
    const [saved, failed, died] = ["saved", "failed", "died"].map((name) => configFor(`${name}.fake.test`)) as [LineageConfig, LineageConfig, LineageConfig];
    // Another instance holds the three locks; this one hears none of its announcements (lost, as PostgreSQL's can be).
    const held = await Promise.all([saved, failed, died].map((config) => world.store.lock(config.name)));
    const deaf = new Proxy(world.store, {
      get: (target, key) => (key === "watch" ? async () => async () => {} : Reflect.get(target, key, target)),
    }) as CertificateStore;
    const one = instance(world, { store: deaf });
    let started = false;
    const start = one.renewer.start([saved, failed, died].map((config) => ({ config, serve: true }))).then(() => void (started = true));
    // It found the three locks taken and waits: one timer each, besides its periodic check of the store.
    while (world.clock.pending() < 4) await new Promise((resolve) => setImmediate(resolve));
    const holder = world.issuer();
    await world.store.save(await holder.obtain(saved), held[0]);
    for (const lock of held.slice(0, 2)) await lock.release(); // the holder saved the first; it failed on the second
    world.store.expireLock(died.name); // and it died holding the third: its lease ended
    const freedAt = world.clock.now();
    // Time moves 10 ms at a time, the work started meanwhile given its turns: what it waits for, not the periodic check a day away.
    // The clock stops 2 s after the locks were freed: what is left (orders, signatures) takes real time only, so a busy
    // machine cannot push the events past 2 s, while a wait that needs more than 2 s of the clock never ends (and fails).
    while (!started && world.clock.now() - freedAt < 2_000) {
      world.clock.advance(10);
      for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    await start;
    expect(world.orders()).toBe(3); // the holder's one, and one each for what it left undone
    expect(one.of("obtained").map((event) => event.lineage).sort()).toEqual([died.name, failed.name]);
    expect(one.server.serialFor(saved.name)).toBe((await world.store.load(saved.name))!.meta.serial);
    // Each certificate settled (served, its renewal scheduled) within 2 s of its lock being free.
    const settled = one.of("next_renewal");
    expect(settled.map((event) => event.lineage).sort()).toEqual([died.name, failed.name, saved.name]);
    // (The fake CA's own polls move the clock a few milliseconds more; a wait of 3 s, as before, never ends with it stopped.)
    for (const event of settled) expect(Date.parse(event.time) - freedAt).toBeLessThanOrEqual(2_500);
    await one.renewer.stop();
  });

  test("a lock held elsewhere on a store that announces saves and has leases is tried after 2 s and then less and less often, up to a third of the lease; the holder's save ends the wait at once", async () => {
    const world = engineWorld();
    const config = configFor("slow.fake.test");
    const held = await world.store.lock(config.name); // another instance is obtaining it, slowly
    const leased = new Proxy(world.store, {
      get: (target, key) => (key === "leaseMs" ? 30_000 : Reflect.get(target, key, target)),
    }) as CertificateStore;
    const tries = countTries(world.store, config.name);
    const one = instance(world, { store: leased });
    let started = false;
    const start = one.renewer.start([{ config, serve: true }]).then(() => void (started = true));
    while (tries() < 1) await new Promise((resolve) => setImmediate(resolve));
    // 40 s of the clock with the lock held: tries after 2, 6, 14, 24 and 34 s (pauses doubling from 2 s to 10 s); pauses
    // from 0.5 s capped at 2 s, as for a store without leases, would make 20.
    for (let elapsed = 0; elapsed < 40_000; elapsed += 100) {
      world.clock.advance(100);
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(tries()).toBe(1 + 5);
    await world.store.save(await world.issuer().obtain(config), held);
    await held.release();
    await turnsUntil(() => started);
    await start;
    expect(tries()).toBe(1 + 5); // taken up from the announcement, its lock not tried again
    expect(world.orders()).toBe(1);
    expect(one.server.serialFor(config.name)).toBe((await world.store.load(config.name))!.meta.serial);
    await one.renewer.stop();
  });

  test("a release and then a save of the same certificate heard while waiting for its holder: the save's take-up ends the wait (the release is not tried over it, and nothing spins)", async () => {
    const world = engineWorld();
    const config = configFor("release-then-save.fake.test");
    const held = await world.store.lock(config.name); // another instance is obtaining it
    // A FAKE announcing store: the memory store with leases and release announcements, whose announcements the test makes.
    let heard: { onChange: (name: string, lineage?: StoredLineage) => void; onRelease?: (name: string) => void } | undefined;
    const announcing = new Proxy(world.store, {
      get: (target, key) => {
        if (key === "watch") return async (onChange: (name: string, lineage?: StoredLineage) => void, onRelease?: (name: string) => void) => ((heard = { onChange, ...(onRelease ? { onRelease } : {}) }), async () => {});
        if (key === "leaseMs") return 30_000;
        if (key === "announcesReleases") return true;
        return Reflect.get(target, key, target);
      },
    }) as CertificateStore;
    const tries = countTries(world.store, config.name);
    const one = instance(world, { store: announcing });
    let started = false;
    const start = one.renewer.start([{ config, serve: true }]).then(() => void (started = true));
    while (tries() < 1 || world.clock.pending() < 2) await new Promise((resolve) => setImmediate(resolve));
    const lineage = await world.issuer().obtain(config);
    await world.store.save(lineage, held);
    await held.release();
    // Both heard in one go: the release ends the wait, and the save's check has begun before the waiter runs again.
    heard!.onRelease!(config.name);
    heard!.onChange(config.name, lineage);
    await turnsUntil(() => started);
    expect(started).toBe(true);
    await start;
    expect(tries()).toBe(1); // taken up from the save, its lock not tried again
    expect(world.orders()).toBe(1);
    expect(one.server.serialFor(config.name)).toBe(lineage.meta.serial);
    await one.renewer.stop();
  });

  test("exactly once: three instances on one store, hearing each other's announcements, renew six names over five rounds with one order per renewal", async () => {
    const world = engineWorld();
    const names = ["n1", "n2", "n3", "n4", "n5", "n6"].map((name) => `${name}.fake.test`);
    const wanted = names.map((name) => ({ config: configFor(name), serve: true }));
    // The same jitter everywhere: every instance wakes at the same moment, the worst case for the lock.
    const instances = [instance(world, { checkIntervalMs: 3_600_000 }), instance(world, { checkIntervalMs: 3_600_000 }), instance(world, { checkIntervalMs: 3_600_000 })];
    await Promise.all(instances.map((one) => one.renewer.start(wanted)));
    expect(world.orders()).toBe(names.length);
    const renewers = instances.map((one) => one.renewer);
    const until = world.clock.now() + 5 * 4.8 * DAY; // renewals every 2/3 of 7 days (plus jitter): five rounds
    while (world.clock.now() < until) await step(world, renewers);
    const renewals = instances.flatMap((one) => one.of("renewed"));
    expect(renewals.length).toBeGreaterThanOrEqual(5 * names.length);
    expect(world.orders()).toBe(names.length + renewals.length);
    for (const name of names) {
      const stored = (await world.store.load(name))!.meta.serial;
      for (const one of instances) expect(one.server.serialFor(name)).toBe(stored);
    }
    for (const one of instances) await one.renewer.stop();
  });
});
