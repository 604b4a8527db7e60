/**
 * The certificates manage() holds, and how each is first found: in the store, in the local cache
 * when the store cannot be reached, or obtained from the CA under the lineage's lock.
 */
import { LockHeldError, sameIdentifiers, StoreError, StoreUnavailableError, type CertificateStore, type LineageConfig, type StoredLineage } from "../store/index.ts";
import { isDue } from "../lifecycle/index.ts";
import type { ServedCertificate } from "../servers/index.ts";
import { eventOf, type ManageEvent } from "./events.ts";
import { Backoff } from "./timing.ts";

/** One managed certificate. */
export interface Slot {
  readonly config: LineageConfig;
  readonly serve: boolean;
  current: StoredLineage;
  timer?: ReturnType<typeof setTimeout>;
  backoff: Backoff;
  /** Set while this instance renews it: news of the save it makes itself is not taken up. */
  busy?: boolean;
  /** Served from the local cache because the store could not be reached: the store is asked again first. */
  detached?: boolean;
}

/** Obtains a certificate for `config` (`replaces`: the ARI ID of the one it succeeds). */
export type Obtain = (config: LineageConfig, replaces?: string) => Promise<StoredLineage>;

/** What finding a slot needs. */
export interface SlotContext {
  readonly store: CertificateStore;
  /** A copy of every certificate served, for starting while a shared store cannot be reached. */
  readonly cache?: CertificateStore;
  readonly obtain: Obtain;
  readonly emit: (event: ManageEvent) => void;
  readonly retry?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number };
}


/** Whether the stored lineage can be served as it is. */
const usable = (stored: StoredLineage | undefined, config: LineageConfig): boolean => !!stored && sameIdentifiers(stored.config, config) && !isDue(stored.meta);

/**
 * Finds every certificate: first those whose lock is free (or which need none), then waits for
 * those another instance is obtaining, so that a fleet started together works on different
 * certificates at once instead of queueing behind the same lock.
 */
export async function initialSlots(wanted: readonly { config: LineageConfig; serve: boolean }[], context: SlotContext): Promise<Slot[]> {
  const slots: (Slot | undefined)[] = [];
  for (const [index, { config, serve }] of wanted.entries()) slots[index] = await initialSlot(config, serve, context, 0);
  for (const [index, { config, serve }] of wanted.entries()) slots[index] ??= await initialSlot(config, serve, context, 120_000);
  return slots as Slot[];
}

/**
 * The stored certificate when it covers the names and is not due (no lock needed to read it);
 * else a new one, obtained and saved under the lineage's lock. With `waitMs` 0, undefined when
 * another instance holds that lock.
 */
export async function initialSlot(config: LineageConfig, serve: boolean, context: SlotContext, waitMs: number): Promise<Slot | undefined> {
  const backoff = new Backoff(context.retry?.baseDelayMs ?? 60_000, context.retry?.maxDelayMs ?? 3_600_000);
  let current: StoredLineage | undefined;
  try {
    current = await findOrObtain(config, context, waitMs);
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return cachedSlot(config, serve, context, error, backoff);
  }
  if (!current) return undefined;
  await keepCopy(context, current);
  return { config, serve, current, backoff };
}

async function findOrObtain(config: LineageConfig, context: SlotContext, waitMs: number): Promise<StoredLineage | undefined> {
  const { store } = context;
  const stored = await store.load(config.name);
  if (usable(stored, config)) return stored;
  let lock;
  try {
    lock = await store.lock(config.name, { waitMs });
  } catch (error) {
    if (error instanceof LockHeldError && waitMs === 0) return undefined;
    throw error;
  }
  try {
    const latest = await store.load(config.name); // another instance may have saved it meanwhile
    if (usable(latest, config)) return latest;
    const obtained = await context.obtain(config, latest && sameIdentifiers(latest.config, config) ? latest.meta.ariCertId : undefined);
    await store.save(obtained, lock); // fenced: a store with leases refuses it if the lock was lost
    context.emit(eventOf(latest ? "renewed" : "obtained", obtained));
    return obtained;
  } finally {
    await lock.release();
  }
}

/** The store cannot be reached: the locally cached certificate, when there is one still valid, else a clear error. */
async function cachedSlot(config: LineageConfig, serve: boolean, context: SlotContext, error: StoreUnavailableError, backoff: Backoff): Promise<Slot> {
  const cached = await context.cache?.load(config.name).catch(() => undefined);
  if (!cached || !sameIdentifiers(cached.config, config) || Date.parse(cached.meta.notAfter) <= Date.now()) {
    const where = context.cache ? `no valid certificate for ${config.name} is cached in ${context.cache.description}` : "no local cache is configured";
    throw new StoreError(`${error.message}; ${where}, so there is nothing to serve: start the store or correct its address`, "ERR_STORE_UNAVAILABLE", { cause: error });
  }
  context.emit({
    ...eventOf("warning", cached),
    message: `${error.message}; serving the certificate cached in ${context.cache!.description} and trying the store again`,
  });
  return { config, serve, current: cached, backoff, detached: true };
}

/** Copies a certificate into the local cache; a failure there is a warning, never a stop. */
export async function keepCopy(context: Pick<SlotContext, "cache" | "emit">, lineage: StoredLineage): Promise<void> {
  await context.cache?.save(lineage).catch((error: Error) => context.emit({ ...eventOf("warning", lineage), message: `not cached locally: ${error.message}` }));
}

/** What the HTTPS server presents: every served slot's chain and key. */
export function servedSlots(slots: readonly Slot[]): ServedCertificate[] {
  return slots.filter((slot) => slot.serve).map((slot) => ({
    names: slot.config.identifiers.map((identifier) => identifier.value),
    chainPem: slot.current.chainPem,
    keyPem: slot.current.keyPem,
  }));
}
