/**
 * The lease lock the shared stores have in common: a holder record (process, host, since, a
 * random token), taken only when free or expired, renewed every third of its lease while held,
 * released only by its holder. Each store says how to do those four things in its database.
 *
 * A holder that learns its lease is gone (a renewal the store refused, or no renewal confirmed for
 * a whole lease) aborts the lock's `signal`: work under the lock (an order at the CA) stops there,
 * before it finalizes, instead of being noticed only by the fenced save.
 */
import { hostname } from "node:os";
import { LockHeldError, LockLostError, type LockHolder, type LockOptions, type StoreLock } from "./file-lock.ts";

/** One database's way to take, read, renew and release a lease for one lineage. */
export interface LeaseOperations {
  /** Takes the lease for `holder` if it is free or expired; whether it did (or, when the store said so at once, who holds it). */
  take(holder: string): Promise<boolean | { readonly heldBy: string }>;
  /** The current holder record, if any. */
  current(): Promise<string | undefined>;
  /** Extends the lease, if `holder` still has it; whether it did. */
  renew(holder: string): Promise<boolean>;
  /** Ends the lease, if `holder` still has it. */
  release(holder: string): Promise<unknown>;
}

/** A held lease: its holder record is what a fenced save checks. */
export interface LeaseLock extends StoreLock {
  readonly holder: string;
  /** The store ended the lease in a write of its own (a save that releases): renewals stop, and `release()` sends nothing. */
  ended(): void;
}

/**
 * Takes a lease, waiting as `options` says, and keeps it renewed until released.
 *
 * @throws {LockHeldError} naming the holder, when the wait runs out
 */
export async function acquireLease(what: string, operations: LeaseOperations, leaseMs: number, options: LockOptions = {}): Promise<LeaseLock> {
  const waitMs = options.waitMs ?? 30_000;
  const holder = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), token: crypto.randomUUID() });
  const started = Date.now();
  for (let taken = await operations.take(holder); taken !== true; taken = await operations.take(holder)) {
    if (Date.now() - started >= waitMs) {
      const current = typeof taken === "object" ? taken.heldBy : await operations.current();
      throw new LockHeldError(what, current ? (JSON.parse(current) as LockHolder) : undefined, Date.now() - started);
    }
    options.signal?.throwIfAborted();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const lost = new AbortController();
  let confirmedAt = Date.now();
  let released = false;
  const renew = async () => {
    const renewed = await operations.renew(holder).catch(() => undefined);
    if (renewed === true) confirmedAt = Date.now();
    const gone = renewed === false || Date.now() - confirmedAt >= leaseMs;
    if (gone && !released && !lost.signal.aborted) {
      clearInterval(timer);
      lost.abort(new LockLostError(what, renewed === false ? "the store no longer names this holder: its lease ran out" : `no renewal confirmed for ${leaseMs} ms`));
    }
  };
  const timer = setInterval(() => void renew(), Math.max(50, Math.floor(leaseMs / 3)));
  let ended = false;
  return {
    holder,
    signal: lost.signal,
    ended: () => {
      ended = released = true;
      clearInterval(timer);
    },
    release: async () => {
      released = true;
      clearInterval(timer);
      if (!ended) await operations.release(holder).catch(() => {});
    },
  };
}
