/**
 * A certificate store in memory, as CertMagic keeps one: for tests and for programs that want
 * nothing on disk. It has the file store's lock semantics (one holder per lineage, others wait up
 * to `waitMs` or get `LockHeldError`) and a shared store's fence and announcements: a save under a
 * lock that is no longer held is refused, and every save is announced to watchers, so that
 * several "instances" on one memory store behave as a fleet on Redis does.
 */
import { systemClock, type TimerClock } from "../acme/index.ts";
import type { AccountRecord, AccountStorage } from "./account-state.ts";
import type { CertificateStore, LineageSummary, SharedChallenges, LoadedLineages } from "./certificate-store.ts";
import { loadEach } from "./load-each.ts";
import { LockHeldError, LockLostError, type LockOptions, type StoreLock } from "./file-lock.ts";
import { checkLineageName, readLineageConfig, serializeLineageConfig, StoreError, type LineageMeta, type StoredLineage } from "./lineage.ts";

/** A lineage as kept: its configuration as the text a shared store would hold, read back through the same parser. */
interface KeptLineage extends Omit<StoredLineage, "config"> {
  readonly configText: string;
}

interface Holder {
  readonly token: symbol;
  readonly lost: AbortController;
  readonly since: string;
}

interface Waiter {
  readonly wake: () => void;
}

/** Lineages, account and challenge answers in this process's memory. */
export class MemoryCertificateStore implements CertificateStore {
  readonly description = "the memory store";
  private readonly lineages = new Map<string, KeptLineage>();
  private readonly holders = new Map<string, Holder>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly watchers = new Set<(name: string, lineage?: StoredLineage) => void>();
  private readonly answers = new Map<string, string>();
  private account: { key?: string; record?: AccountRecord } = {};
  private readonly clock: TimerClock;
  /** Saves made (whole lineages), for tests counting writes. */
  saves = 0;

  /** @param clock the time lock waits are measured in (default: the system clock) */
  constructor(clock: TimerClock = systemClock) {
    this.clock = clock;
  }

  locate(): undefined {
    return undefined;
  }

  async list(): Promise<string[]> {
    return [...this.lineages.keys()].sort();
  }

  async summary(name: string): Promise<LineageSummary | undefined> {
    const lineage = this.lineages.get(name);
    return lineage ? { config: this.configOf(name, lineage), meta: lineage.meta } : undefined;
  }

  async load(name: string): Promise<StoredLineage | undefined> {
    return this.stored(name);
  }

  /** Every named lineage held (see {@link CertificateStore.loadMany}). */
  loadMany(names: readonly string[]): Promise<LoadedLineages> {
    return loadEach(names, async (name) => this.stored(name));
  }

  /**
   * Stores the lineage and announces it; with `lock`, only while that lock is still held.
   *
   * @throws {StoreError} `ERR_STORE_FENCED` when the lock is no longer held
   */
  async save(lineage: StoredLineage, lock?: StoreLock): Promise<void> {
    const name = checkLineageName(lineage.config.name);
    this.fence(name, lock);
    const { config, ...rest } = lineage;
    this.lineages.set(name, { ...rest, configText: serializeLineageConfig(config) });
    this.saves++;
    this.announce(name, lineage);
  }

  /** @throws {StoreError} `ERR_STORE_FENCED` when the lock is no longer held; `ERR_STORE` when there is no such lineage */
  async saveMeta(name: string, meta: LineageMeta, lock?: StoreLock): Promise<void> {
    this.fence(name, lock);
    const lineage = this.lineages.get(name);
    if (!lineage) throw new StoreError(`${this.description} has no lineage ${name}`);
    this.lineages.set(name, { ...lineage, meta });
    this.announce(name);
  }

  /**
   * Takes the lineage's lock, waiting up to `options.waitMs` (default 30 000) for its holder to let go.
   *
   * @throws {LockHeldError} when another holder keeps it past the wait
   */
  async lock(name: string, options: LockOptions = {}): Promise<StoreLock> {
    checkLineageName(name);
    const waitMs = options.waitMs ?? 30_000;
    const started = this.clock.now();
    while (this.holders.has(name)) {
      options.signal?.throwIfAborted();
      const left = waitMs - (this.clock.now() - started);
      if (left <= 0) throw new LockHeldError(`Lineage ${name}`, { pid: process.pid, host: "memory", since: this.holders.get(name)!.since }, this.clock.now() - started);
      await new Promise<void>((resolve) => {
        const timer = this.clock.setTimer(() => done(), left);
        const waiter: Waiter = { wake: () => done() };
        const done = () => {
          timer.cancel();
          const queue = this.waiters.get(name) ?? [];
          queue.splice(queue.indexOf(waiter) >>> 0, 1);
          resolve();
        };
        this.waiters.set(name, [...(this.waiters.get(name) ?? []), waiter]);
      });
    }
    const holder: Holder = { token: Symbol(name), lost: new AbortController(), since: new Date(this.clock.now()).toISOString() };
    this.holders.set(name, holder);
    const lock: StoreLock & { token: symbol } = {
      token: holder.token,
      signal: holder.lost.signal,
      release: async () => {
        if (this.holders.get(name)?.token === holder.token) this.free(name);
      },
    };
    return lock;
  }

  /**
   * Takes the lineage's lock from its holder, as a shared store does when the holder's lease runs
   * out: its saves are refused from now on, and its `signal` aborts unless `noticed` is false (a
   * holder whose next lease renewal has not come yet). For tests.
   */
  expireLock(name: string, noticed = true): void {
    const holder = this.holders.get(name);
    if (!holder) return;
    if (noticed) holder.lost.abort(new LockLostError(`Lineage ${name}`, "its lease ran out"));
    this.free(name);
  }

  /** Whether the lineage's lock is held. */
  isLocked(name: string): boolean {
    return this.holders.has(name);
  }

  accountStorage(): AccountStorage {
    return {
      readKey: async () => this.account.key,
      saveKey: async (pem) => void (this.account = { ...this.account, key: pem }),
      saveRecord: async (record) => void (this.account = { ...this.account, record }),
    };
  }

  sharedChallenges(): SharedChallenges {
    return {
      publish: async (token, keyAuthorization) => void this.answers.set(token, keyAuthorization),
      answer: async (token) => this.answers.get(token),
      withdraw: async (token) => void this.answers.delete(token),
    };
  }

  /** Announces every save, a whole lineage's with the lineage (as the Redis store does). */
  async watch(onChange: (name: string, lineage?: StoredLineage) => void): Promise<() => Promise<void>> {
    const watcher = (name: string, lineage?: StoredLineage) => onChange(name, lineage);
    this.watchers.add(watcher);
    return async () => void this.watchers.delete(watcher);
  }

  /** The configuration through the parser every store uses, as a shared store's record is read. */
  /** The lineage as kept, its config read through the lineage parser as every store's is. */
  private stored(name: string): StoredLineage | undefined {
    const lineage = this.lineages.get(name);
    if (!lineage) return undefined;
    const { configText: _, ...rest } = lineage;
    return { ...rest, config: this.configOf(name, lineage) };
  }

  private configOf(name: string, lineage: KeptLineage) {
    return readLineageConfig(lineage.configText, `${this.description} lineage ${name} (config)`, name);
  }

  /**
   * Puts a configuration record as text, as another bun-acme version (or a hand) may have written
   * it to a shared store: for tests of the record reader.
   */
  putConfigText(name: string, text: string): void {
    const lineage = this.lineages.get(checkLineageName(name));
    if (!lineage) throw new StoreError(`${this.description} has no lineage ${name}`);
    this.lineages.set(name, { ...lineage, configText: text });
  }

  private fence(name: string, lock: StoreLock | undefined): void {
    const token = (lock as { token?: symbol } | undefined)?.token;
    if (lock && this.holders.get(name)?.token !== token) {
      throw new StoreError(`${this.description} lineage ${name}: not saved, this holder's lock was lost (fenced)`, "ERR_STORE_FENCED");
    }
  }

  private free(name: string): void {
    this.holders.delete(name);
    this.waiters.get(name)?.[0]?.wake();
  }

  /** Announced after the caller's turn, as a store's publish reaches subscribers. */
  private announce(name: string, lineage?: StoredLineage): void {
    for (const watcher of this.watchers) queueMicrotask(() => watcher(name, lineage));
  }
}
