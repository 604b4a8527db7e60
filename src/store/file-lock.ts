/**
 * A lock file per lineage, so that two overlapping runs (a cron job and a manual `renew`) never
 * renew the same certificate twice. Created with O_EXCL; it names its holder (process, host,
 * since when), and a holder on this host that no longer runs is a stale lock, taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { sleep } from "../acme/index.ts";
import { StoreError } from "./lineage.ts";

/** A held lock. */
export interface StoreLock {
  /** Releases it (only if it is still ours). */
  release(): Promise<void>;
  /**
   * Aborted (with a {@link LockLostError}) when the holder learns the lock is no longer its own, e.g. a
   * lease that could not be renewed; work under the lock stops there. Absent for locks that cannot be lost.
   */
  readonly signal?: AbortSignal;
}

/** How long to wait for a lock another run holds. */
export interface LockOptions {
  /** Milliseconds (default 30 000); 0 fails at once. */
  readonly waitMs?: number;
  /** Aborts the wait. */
  readonly signal?: AbortSignal;
}

/** Who holds a lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** The lock is held by another run that is still alive, past the wait. */
export class LockHeldError extends StoreError {
  readonly holder: LockHolder | undefined;
  constructor(what: string, holder: LockHolder | undefined, waitedMs: number) {
    const who = holder ? `process ${holder.pid} on ${holder.host} (since ${holder.since})` : "another run";
    super(`${what} is locked by ${who}; gave up after waiting ${Math.round(waitedMs / 1000)} s`, "ERR_STORE_LOCKED");
    this.holder = holder;
  }
}

/** A lease lock was lost while held (its lease ran out and could not be renewed, or another holder took it). */
export class LockLostError extends StoreError {
  constructor(what: string, why: string) {
    super(`${what}: the lock was lost while held (${why}); nothing more is done under it`, "ERR_STORE_LOCK_LOST");
    this.name = "LockLostError";
  }
}

const POLL_MS = 100;

/**
 * Takes the lock file `path`, waiting up to `waitMs` for another holder to let go.
 *
 * @throws {LockHeldError} when another live run holds it past the wait
 * @throws {Error} from the file system (e.g. `EACCES`, `EROFS`)
 */
export async function acquireFileLock(path: string, what: string, options: LockOptions = {}): Promise<StoreLock> {
  const waitMs = options.waitMs ?? 30_000;
  const started = Date.now();
  const token = crypto.randomUUID();
  for (;;) {
    if (tryCreate(path, token)) return { release: async () => releaseIfOurs(path, token) };
    const holder = readHolder(path);
    if (holder && isStale(holder)) {
      removeQuietly(path);
      continue;
    }
    if (Date.now() - started >= waitMs) throw new LockHeldError(what, holder, Date.now() - started);
    await sleep(POLL_MS, options.signal);
  }
}

function tryCreate(path: string, token: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString(), token }));
  } finally {
    closeSync(fd);
  }
  return true;
}

function readHolder(path: string): (LockHolder & { token?: string }) | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, "utf8")) as LockHolder & { token?: string };
    return Number.isInteger(holder.pid) && typeof holder.host === "string" ? holder : undefined;
  } catch {
    return undefined; // being written, or gone: look again on the next round
  }
}

/** A holder on this host whose process is gone. Holders on other hosts cannot be checked. */
function isStale(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function releaseIfOurs(path: string, token: string): void {
  if (readHolder(path)?.token === token) removeQuietly(path);
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}
