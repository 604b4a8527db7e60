import { describe, expect, test } from "bun:test";
import { NoncePool } from "../../src/acme/nonce-pool.ts";

describe("NoncePool", () => {
  test("take() hands out pooled nonces, newest first", async () => {
    const pool = new NoncePool(2);
    pool.begin()("a");
    pool.begin()("b");
    expect(await pool.take()).toBe("b");
    expect(await pool.take()).toBe("a");
  });

  test("an empty pool with few requests in flight tells callers to fetch a fresh nonce, reserving a lane each", async () => {
    const pool = new NoncePool(2);
    expect(await pool.take()).toBeUndefined(); // lane 1 reserved
    expect(await pool.take()).toBeUndefined(); // lane 2 reserved
    let third = null as string | undefined | null;
    const waiting = pool.take().then((nonce) => (third = nonce));
    await Promise.resolve();
    expect(third).toBeNull(); // both lanes busy: it waits instead of a third HEAD
    const finish = pool.begin();
    finish("from-a-response");
    await waiting;
    expect(third).toBe("from-a-response");
    pool.release();
    pool.release();
  });

  test("a request that brings no nonce back wakes one waiter to fetch its own", async () => {
    const pool = new NoncePool(1);
    const finish = pool.begin(); // one request in flight fills the only lane
    const waiter = pool.take();
    finish(undefined); // it failed: no nonce
    expect(await waiter).toBeUndefined();
  });

  test("finishing twice counts once", async () => {
    const pool = new NoncePool(1);
    const finish = pool.begin();
    finish("x");
    finish("y");
    expect(await pool.take()).toBe("x");
    expect(await pool.take()).toBeUndefined();
  });
});
