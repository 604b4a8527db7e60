/**
 * The certificates manage() holds, and how each is first found: in the store (checked whole), or
 * in the local cache when the store cannot be reached. Whatever is missing, damaged or due is then
 * obtained by the lifecycle engine in the background (renewer.ts).
 */
import type { Timer } from "../acme/index.ts";
import { certificateOf, inspect, lineageDamage, subjectOf, type Untimed } from "../lifecycle/index.ts";
import { sameIdentifiers, StoreError, StoreUnavailableError, type CertificateStore, type LineageConfig, type StoredLineage } from "../store/index.ts";
import { markKeyChecked, type ServedCertificate } from "../servers/index.ts";
import type { Backoff } from "./timing.ts";
import type { ManageEvent } from "./events.ts";

/** One managed certificate. */
export interface Slot {
  readonly config: LineageConfig;
  readonly serve: boolean;
  /** The certificate served; none yet when the store had none (the placeholder is served meanwhile). */
  current?: StoredLineage;
  timer?: Timer;
  backoff: Backoff;
  /** Set while the engine works on it: news of the save it makes itself is not taken up. */
  busy?: boolean;
  /** Served from the local cache because the store could not be reached: the store is asked again first. */
  detached?: boolean;
  /** What the store held at start, read with the others in one batch: the first engine run starts from it instead of reading again. */
  preloaded?: Found;
}

/** A stored lineage as found: whole, damaged (the message naming it), or absent (neither). */
export interface Found {
  readonly lineage?: StoredLineage;
  readonly damage?: string;
}

/** What finding a slot needs. */
export interface SlotContext {
  readonly store: CertificateStore;
  /** A copy of every certificate served, for starting while a shared store cannot be reached. */
  readonly cache?: CertificateStore;
  readonly emit: (event: Untimed<ManageEvent>) => void;
  readonly now: () => number;
}

/**
 * The slot for `config` with what the store holds: a whole lineage for its names, expired too (a
 * warning says so: an expired certificate beats none while the CA is away), else nothing to serve
 * yet. A damaged lineage is reported by name and left to be obtained again.
 *
 * @throws {StoreError} `ERR_STORE_UNAVAILABLE` when the store cannot be reached and nothing valid is cached
 */
export async function loadSlot(config: LineageConfig, serve: boolean, context: SlotContext, backoff: Backoff): Promise<Slot> {
  let found;
  try {
    found = await inspect(context.store, config, context.now());
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return cachedSlot(config, serve, context, error, backoff);
  }
  return slotFrom(config, serve, context, backoff, found);
}

/**
 * The slots for `wanted`, read from the store in one batch when it can ({@link CertificateStore.loadMany}:
 * one round trip for every certificate, whatever their number), else one by one as {@link loadSlot}.
 * What was read is kept on each slot for its first engine run.
 *
 * @throws {StoreError} `ERR_STORE_UNAVAILABLE` when the store cannot be reached and nothing valid is cached
 */
export async function loadSlots(wanted: readonly { config: LineageConfig; serve: boolean }[], context: SlotContext, backoff: () => Backoff): Promise<Slot[]> {
  if (!context.store.loadMany) return Promise.all(wanted.map(({ config, serve }) => loadSlot(config, serve, context, backoff())));
  let loaded;
  try {
    loaded = await context.store.loadMany(wanted.map(({ config }) => config.name));
  } catch (error) {
    if (!(error instanceof StoreUnavailableError)) throw error;
    return Promise.all(wanted.map(({ config, serve }) => cachedSlot(config, serve, context, error, backoff())));
  }
  return Promise.all(wanted.map(async ({ config, serve }) => {
    const found = await checked(config.name, loaded.get(config.name), context.now());
    return { ...slotFrom(config, serve, context, backoff(), found), preloaded: found };
  }));
}

/** A lineage read in a batch, checked whole as the engine's `inspect` checks it. */
async function checked(name: string, read: StoredLineage | StoreError | undefined, now: number): Promise<Found> {
  if (read === undefined) return {};
  if (read instanceof StoreError) return { damage: read.message };
  const damage = await lineageDamage(read, now);
  return damage ? { damage: `Lineage ${name}: ${damage}` } : { lineage: read };
}

/** The slot for what was found (a damaged lineage reported, an expired one served with a warning). */
function slotFrom(config: LineageConfig, serve: boolean, context: SlotContext, backoff: Backoff, found: Found): Slot {
  if (found.damage) context.emit({ type: "damaged", ...subjectOf(config), message: `${found.damage}; not served, obtained again` });
  const current = found.lineage && sameIdentifiers(found.lineage.config, config) ? found.lineage : undefined;
  if (current && Date.parse(current.meta.notAfter) <= context.now()) {
    context.emit({ type: "warning", ...certificateOf(current), message: `the stored certificate expired at ${current.meta.notAfter}; served until a new one is obtained` });
  }
  return { config, serve, backoff, ...(current ? { current } : {}) };
}

/** The store cannot be reached: the locally cached certificate, when there is one still valid, else a clear error. */
async function cachedSlot(config: LineageConfig, serve: boolean, context: SlotContext, error: StoreUnavailableError, backoff: Backoff): Promise<Slot> {
  const cached = context.cache ? await inspect(context.cache, config, context.now()).catch(() => undefined) : undefined;
  const lineage = cached?.lineage;
  if (!lineage || !sameIdentifiers(lineage.config, config) || Date.parse(lineage.meta.notAfter) <= context.now()) {
    const where = context.cache ? `no valid certificate for ${config.name} is cached in ${context.cache.description}` : "no local cache is configured";
    throw new StoreError(`${error.message}; ${where}, so there is nothing to serve: start the store or correct its address`, "ERR_STORE_UNAVAILABLE", { cause: error });
  }
  context.emit({
    type: "warning",
    ...certificateOf(lineage),
    message: `${error.message}; serving the certificate cached in ${context.cache!.description} and trying the store again`,
  });
  return { config, serve, current: lineage, backoff, detached: true };
}

/** Copies a certificate into the local cache; a failure there is a warning, never a stop. */
export async function keepCopy(context: Pick<SlotContext, "cache" | "emit">, lineage: StoredLineage): Promise<void> {
  await context.cache?.save(lineage).catch((error: Error) => context.emit({ type: "warning", ...certificateOf(lineage), message: `not cached locally: ${error.message}` }));
}

/**
 * What the HTTPS server presents: every served slot's chain and key (slots without a certificate
 * yet get the placeholder). Each is marked key-checked (`markKeyChecked`): a slot's certificate is only ever one that
 * `lineageDamage` found whole (loaded, taken up, cached or just obtained), its key the leaf's.
 */
export function servedSlots(slots: readonly Slot[]): ServedCertificate[] {
  return slots.filter((slot) => slot.serve && slot.current).map((slot) => markKeyChecked({
    names: slot.config.identifiers.map((identifier) => identifier.value),
    chainPem: slot.current!.chainPem,
    keyPem: slot.current!.keyPem,
  }));
}
