/**
 * The one path by which a certificate is obtained or renewed (STYLE rule 13, as CertMagic's
 * `obtainCert`): load → still usable? → lock → load again under the lock → ask the CA's ARI when
 * its Retry-After passed → obtain → save under the lock, fenced → a tagged outcome. Whoever
 * obtains (manage()'s start, its renewals, on-demand names) calls this and differs only in what
 * it does with the outcome.
 */
import { LockHeldError, sameIdentifiers, StoreError, StoreUnavailableError, type CertificateStore, type LineageConfig, type StoredLineage, type StoreLock } from "../store/index.ts";
import type { Clock } from "../acme/index.ts";
import { lineageDamage } from "./integrity.ts";
import type { IssueLineageOptions, Issuer } from "./issuer.ts";
import { isDue, needsRenewalInfo } from "./schedule.ts";

/** How {@link ensureLineage} goes about it. */
export interface EnsureOptions {
  /** Obtain a new certificate even when the stored one is usable. */
  readonly force?: boolean;
  /** Obtain, but save nothing (metadata included). */
  readonly dryRun?: boolean;
  /** Milliseconds to wait for the lineage's lock when another holds it (default 120 000; 0: do not wait). */
  readonly lockWait?: number;
  readonly signal?: AbortSignal;
  /** Time (default: the issuer's clock). */
  readonly clock?: Clock;
  /** What the caller holds now (serves): a usable stored lineage that differs from it is "taken-up". */
  readonly current?: StoredLineage;
  /** What the store held, read (and checked whole) just before by the caller: the first read is skipped (the read under the lock still decides). */
  readonly preloaded?: { readonly lineage?: StoredLineage; readonly damage?: string };
  /**
   * Runs around the order, only when one is placed, and calls `order` once: what must come first
   * (the CLI's pre-hook, the responders it starts for this lineage) and what it uses instead of
   * the issuer's own (a solver, progress lines). A throw is the outcome, as the order's would be.
   */
  readonly aroundOrder?: (order: (use?: OrderUse) => Promise<StoredLineage>) => Promise<StoredLineage>;
}

/** What one order may use instead of the issuer's own. */
export type OrderUse = Pick<IssueLineageOptions, "solver" | "cleanupSignal" | "log">;

/** What {@link ensureLineage} did. */
export type LineageOutcome =
  /** The stored lineage is usable and is the one the caller holds (or the caller holds none): nothing was ordered. */
  | { readonly kind: "unchanged"; readonly lineage: StoredLineage }
  /** The stored lineage is usable and newer than the caller's (another instance renewed it): nothing was ordered. */
  | { readonly kind: "taken-up"; readonly lineage: StoredLineage }
  /** A first certificate (or one replacing a damaged lineage, whose damage is given). */
  | { readonly kind: "obtained"; readonly lineage: StoredLineage; readonly saved: boolean; readonly damage?: string }
  /** A renewal of the stored lineage. */
  | { readonly kind: "renewed"; readonly lineage: StoredLineage; readonly previous: StoredLineage; readonly saved: boolean }
  /** Another holder kept the lock past `lockWait`; `lineage` is what the store holds, when it is whole. */
  | { readonly kind: "locked-elsewhere"; readonly held: LockHeldError; readonly lineage?: StoredLineage };

/** A stored lineage as found: whole (`lineage`), damaged (`damage`), or absent (neither). */
interface Found {
  readonly lineage?: StoredLineage;
  readonly damage?: string;
}

/**
 * Makes sure the store holds a usable certificate for `config` (covers its names, whole, not due
 * for renewal), obtaining one under the lineage's lock when it does not. Under the lock the
 * store is read again, and a usable lineage found there is used, never ordered again: whatever
 * the number of instances, one order per renewal. The save is fenced by the lock (a shared
 * store refuses it once the lease was lost) and an order stops when the lock is known lost.
 *
 * @throws {StoreUnavailableError} when the store cannot be reached
 * @throws {AcmeError} when the issuance fails
 * @throws {LockLostError} when the lock was lost during the issuance
 */
export async function ensureLineage(store: CertificateStore, config: LineageConfig, issuer: Issuer, options: EnsureOptions = {}): Promise<LineageOutcome> {
  const clock = options.clock ?? issuer.clock;
  const first = options.preloaded ?? (await inspect(store, config, clock.now()));
  if (!options.force && usable(first, config, clock.now()) && !needsRenewalInfo(first.lineage!.meta, clock.now())) return kept(first.lineage!, options);
  let lock: StoreLock;
  try {
    lock = await store.lock(config.name, { waitMs: options.lockWait ?? 120_000, ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if (error instanceof LockHeldError) return { kind: "locked-elsewhere", held: error, ...(first.lineage ? { lineage: first.lineage } : {}) };
    throw error;
  }
  try {
    // Another instance may have saved while this one waited: what is stored now decides.
    let latest = await inspect(store, config, clock.now());
    if (latest.lineage && sameIdentifiers(latest.lineage.config, config) && needsRenewalInfo(latest.lineage.meta, clock.now())) {
      const meta = await issuer.schedule(latest.lineage);
      if (!options.dryRun) await store.saveMeta(config.name, meta, lock);
      latest = { lineage: { ...latest.lineage, meta } };
    }
    if (!options.force && usable(latest, config, clock.now())) return kept(latest.lineage!, options);
    const signals = [options.signal, lock.signal].filter((signal): signal is AbortSignal => signal !== undefined);
    const previous = latest.lineage && sameIdentifiers(latest.lineage.config, config) ? latest.lineage : undefined;
    const order = (use: OrderUse = {}) => issuer.obtain(config, {
      ...use,
      ...(previous?.meta.ariCertId ? { replaces: previous.meta.ariCertId, ...(previous.meta.directoryUrl ? { replacesIssuer: previous.meta.directoryUrl } : {}) } : {}),
      ...(signals.length ? { signal: AbortSignal.any(signals) } : {}),
    });
    const obtained = await (options.aroundOrder ? options.aroundOrder(order) : order());
    const damage = await lineageDamage(obtained, clock.now());
    if (damage) throw new StoreError(`Lineage ${config.name}: the certificate just issued is not saved: ${damage}`, "ERR_LINEAGE_DAMAGED");
    lock.signal?.throwIfAborted();
    // Fenced: a store with leases refuses it once the lock was lost. The lock ends with it (nothing more is done under it).
    if (!options.dryRun) await store.save(obtained, lock, { releaseLock: true });
    const saved = !options.dryRun;
    return previous
      ? { kind: "renewed", lineage: obtained, previous, saved }
      : { kind: "obtained", lineage: obtained, saved, ...(latest.damage ? { damage: latest.damage } : {}) };
  } finally {
    await lock.release();
  }
}

/**
 * The stored lineage, checked whole. A lineage the store cannot parse, or whose key and chain do
 * not belong together, is damaged (and will be obtained again), not an error: it must not stop
 * the other lineages.
 *
 * @throws {StoreUnavailableError} when the store cannot be reached
 */
export async function inspect(store: CertificateStore, config: LineageConfig, now: number): Promise<Found> {
  let lineage: StoredLineage | undefined;
  try {
    lineage = await store.load(config.name);
  } catch (error) {
    if (error instanceof StoreUnavailableError || !(error instanceof StoreError)) throw error;
    return { damage: error.message };
  }
  if (!lineage) return {};
  const damage = await lineageDamage(lineage, now);
  return damage ? { damage: `Lineage ${config.name}: ${damage}` } : { lineage };
}

/** Whether what was found can be served as it is: whole, for these names, not due. */
function usable(found: Found, config: LineageConfig, now: number): boolean {
  return !!found.lineage && sameIdentifiers(found.lineage.config, config) && !isDue(found.lineage.meta, now);
}

function kept(lineage: StoredLineage, options: EnsureOptions): LineageOutcome {
  const differs = options.current !== undefined && options.current.meta.serial !== lineage.meta.serial;
  return { kind: differs ? "taken-up" : "unchanged", lineage };
}
