/**
 * The memory store has the file store's lock semantics and a shared store's fence and
 * announcements, so that the fast engine and scheduler tests mean what they would on Redis.
 */
import { describe, expect, test } from "bun:test";
import { LockHeldError, MemoryCertificateStore, StoreError } from "../../src/store/index.ts";
import { configFor, engineWorld } from "../support/engine.ts";
import { FakeTimerClock } from "../support/fake-timers.ts";

describe("MemoryCertificateStore", () => {
  test("the lock is exclusive: no wait fails at once with LockHeldError; a waiter gets it when the holder lets go, in order", async () => {
    const store = new MemoryCertificateStore(new FakeTimerClock());
    const held = await store.lock("a.test");
    await expect(store.lock("a.test", { waitMs: 0 })).rejects.toBeInstanceOf(LockHeldError);
    const order: string[] = [];
    const first = store.lock("a.test", { waitMs: 60_000 }).then((lock) => (order.push("first"), lock));
    const second = store.lock("a.test", { waitMs: 60_000 }).then((lock) => (order.push("second"), lock));
    await held.release();
    await (await first).release();
    await (await second).release();
    expect(order).toEqual(["first", "second"]);
    expect(store.isLocked("a.test")).toBe(false);
  });

  test("a waiter gives up after its wait, measured on the store's clock", async () => {
    const clock = new FakeTimerClock();
    const store = new MemoryCertificateStore(clock);
    await store.lock("a.test");
    const waiting = store.lock("a.test", { waitMs: 30_000 }).catch((error: unknown) => error);
    clock.advance(29_999);
    expect(store.isLocked("a.test")).toBe(true);
    clock.advance(1);
    expect(await waiting).toBeInstanceOf(LockHeldError);
  });

  test("saves are fenced by the lock, announced to watchers, and a lock lost aborts its signal", async () => {
    const world = engineWorld();
    const lineage = await world.issuer().obtain(configFor("a.fake.test"));
    const heard: string[] = [];
    const unwatch = await world.store.watch((name) => heard.push(name));
    const lock = await world.store.lock("a.fake.test");
    await world.store.save(lineage, lock);
    world.store.expireLock("a.fake.test");
    expect(lock.signal?.aborted).toBe(true);
    const error = await world.store.save(lineage, lock).catch((caught: unknown) => caught);
    expect((error as StoreError).code).toBe("ERR_STORE_FENCED");
    await Promise.resolve();
    expect(heard).toEqual(["a.fake.test"]);
    await unwatch();
    expect(await world.store.list()).toEqual(["a.fake.test"]);
  });
});
