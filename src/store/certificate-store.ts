/**
 * The certificate store: where lineages live. One interface, so that the file store here and
 * shared stores (Redis, PostgreSQL) are used through the same calls.
 */
import type { AccountStorage } from "./account-state.ts";
import type { LockOptions, StoreLock } from "./file-lock.ts";
import type { LineageConfig, LineageMeta, StoreError, StoredLineage } from "./lineage.ts";

/** What {@link CertificateStore.loadMany} found: each stored name's lineage, or the error that names its damage. */
export type LoadedLineages = ReadonlyMap<string, StoredLineage | StoreError>;

/** How a save goes about it. */
export interface SaveOptions {
  /**
   * Ends the lock given with the save in the same write (the caller has nothing more to do under
   * it): one round trip fewer, and no moment at which the save is visible but the lock still held.
   * Stores without leases ignore it; the caller still calls `release()`, which then does nothing.
   */
  readonly releaseLock?: boolean;
}

/** A lineage's configuration and metadata, without its key and chain (what scheduling needs). */
export interface LineageSummary {
  readonly config: LineageConfig;
  readonly meta: LineageMeta;
  /**
   * Whether the configuration is known to come from someone allowed to say what runs: a file only
   * this user or root can write, or a record sealed with the store's encryption key. Hooks and
   * dns-01 hook solver of a configuration that is not are never run.
   */
  readonly authenticated?: boolean;
}

/**
 * Challenge answers published where every instance of a fleet can read them: whichever instance
 * the load balancer sends the CA's validation request to answers it.
 */
export interface SharedChallenges {
  publish(token: string, keyAuthorization: string, ttlMs: number): Promise<void>;
  answer(token: string): Promise<string | undefined>;
  withdraw(token: string): Promise<void>;
  /**
   * Resolves once this instance hears the answers the others publish, where a store delivers them
   * (Redis): an instance that starts answering before then is still right, only dearer (it asks).
   */
  ready?(): Promise<void>;
}

/** Where lineages are kept. Every write is all-or-nothing for the files it touches. */
export interface CertificateStore {
  /** For messages: "the file store /var/lib/bun-acme". */
  readonly description: string;
  /** Lineage names, sorted. */
  list(): Promise<string[]>;
  /**
   * @throws {StoreError} when the lineage's files are not what bun-acme wrote
   */
  summary(name: string): Promise<LineageSummary | undefined>;
  /** The whole lineage, key and chain included. */
  load(name: string): Promise<StoredLineage | undefined>;
  /**
   * Every named lineage that is stored, in as few round trips as the store allows (manage()'s
   * start, a fleet's take-ups): a name not stored is absent from the map, a damaged one maps to
   * the {@link StoreError} `load` would throw, so that one bad record never hides the others.
   *
   * @throws {StoreUnavailableError} when the store cannot be reached
   */
  loadMany?(names: readonly string[]): Promise<LoadedLineages>;
  /**
   * Writes key, chain, configuration and metadata together. With `lock`, a store with leases
   * writes only while that lock is still held (a fence against a holder that stalled).
   */
  save(lineage: StoredLineage, lock?: StoreLock, options?: SaveOptions): Promise<void>;
  /** Replaces the metadata alone (a new renewal time from the CA's renewalInfo). */
  saveMeta(name: string, meta: LineageMeta, lock?: StoreLock): Promise<void>;
  /**
   * How long a lock outlives a holder that stopped renewing it, ms: set by the stores whose locks
   * are leases (Redis, PostgreSQL). A waiter that hears saves announced needs to try a lock again
   * only about that often to notice a holder that died.
   */
  readonly leaseMs?: number;
  /**
   * Takes the lineage's lock, waiting as `options` says.
   *
   * @throws {LockHeldError} when another run holds it past the wait
   */
  lock(name: string, options?: LockOptions): Promise<StoreLock>;
  /** The lineage's folder, when the store has one (what hooks get as `RENEWED_LINEAGE`). */
  locate(name: string): string | undefined;
  /** Where the account lives in this store. */
  accountStorage(): AccountStorage;
  /** Shared challenge answers, in stores several instances use at once (none for the file store). */
  sharedChallenges?(): SharedChallenges;
  /**
   * Whether {@link watch} also reports every lock released without a save (`onRelease`): a waiter
   * for another instance's lock then needs to try it again only on that, or once the holder's
   * lease can have run out (a holder that died announces nothing).
   */
  readonly announcesReleases?: boolean;
  /**
   * Calls `onChange(name)` whenever any instance saves a lineage (stores shared by a fleet), with
   * the lineage itself when the announcement carried it whole (checked as `load` checks it), and
   * `onRelease(name)` when a lineage's lock is released without a save, in stores that
   * {@link announcesReleases}; returns the function that stops watching.
   */
  watch?(onChange: (name: string, lineage?: StoredLineage) => void, onRelease?: (name: string) => void): Promise<() => Promise<void>>;
}
