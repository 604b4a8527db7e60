/**
 * manage()'s background work, all through the lifecycle engine (`ensureLineage`): what the store
 * lacks (or holds damaged, or due) obtained at start, a few at a time, each swapped in as it
 * arrives; each certificate renewed at its time (retried with backoff while the current one keeps
 * being served); certificates other instances saved taken up; and the server's certificates
 * swapped after each change. Every engine run (start, renewal, retry, on demand) goes through one
 * {@link Limiter}: an instance holds at most `concurrency` locks and orders at once.
 */
import type { TimerClock } from "../acme/index.ts";
import { certificateOf, ensureLineage, failureEvent, inspect, isDue, lineageDamage, needsRenewalInfo, outcomeEvent, subjectOf, type Issuer, type LineageOutcome, type Untimed } from "../lifecycle/index.ts";
import type { ServedCertificate } from "../servers/index.ts";
import { sameIdentifiers, StoreError, StoreUnavailableError, type CertificateStore, type LineageConfig, type StoredLineage } from "../store/index.ts";
import { keepCopy, loadSlot, loadSlots, servedSlots, type Found, type Slot } from "./slots.ts";
import { Limiter } from "./limiter.ts";
import { StartQueue } from "./start-queue.ts";
import { Backoff, jitteredDelay } from "./timing.ts";
import type { ManageEvent } from "./events.ts";

/** What manage() serves with: `HotTlsServer` (Bun.serve) or `TlsFrontServer` (node:tls, on demand). */
export interface CertificateServer {
  readonly port: number;
  serve(certificates: readonly ServedCertificate[]): Promise<void>;
  stop(): Promise<void>;
}

/** Engine runs at once when `concurrency` is not given. */
const DEFAULT_CONCURRENCY = 4;
/** How long a renewal waits for another instance's lock before it counts as failed (and is retried). */
const LOCK_WAIT_MS = 120_000;
/**
 * At start, a certificate another instance holds the lock of is awaited as that instance's
 * announcement, and its lock tried once after this long without it, then after twice as long, up
 * to {@link RECHECK_MAX_MS}: an announcement that is late or lost (PostgreSQL's NOTIFY under load),
 * a holder that failed (it saves nothing) or died (its lease ends) costs at most that long.
 * With a store that announces saves and has leases, the first try comes after
 * {@link RECHECK_MAX_MS} and the tries go on doubling up to a third of the lease: the
 * announcement ends the wait of a holder that saved, and one that died is not noticed any sooner
 * than its lease ends anyway (fewer store commands the more instances wait). With a store that
 * also announces a lock released without a save, that announcement ends the wait of a holder that
 * failed or stopped, and the lock is tried otherwise only once a lease can have run out.
 */
const RECHECK_FIRST_MS = 500;
const RECHECK_MAX_MS = 2_000;
/**
 * A certificate only guessed held elsewhere at start (next to another instance's lock or save) is
 * tried after this many of this instance's own engine runs (their mean duration; another instance
 * started on it at most one run ago, and may have it queued behind a run), from
 * {@link RECHECK_MAX_MS} up to {@link RECHECK_GUESSED_MAX_MS}: its save usually comes first.
 */
const GUESSED_HOLDER_RUNS = 1.5;
const RECHECK_GUESSED_MAX_MS = 10_000;

/** The first and the longest pause between two tries of a lock held elsewhere (see {@link RECHECK_FIRST_MS}). */
function recheckPauses(store: CertificateStore): { readonly first: number; readonly cap: number } {
  if (store.watch === undefined || store.leaseMs === undefined) return { first: RECHECK_FIRST_MS, cap: RECHECK_MAX_MS };
  if (store.announcesReleases) return { first: store.leaseMs, cap: store.leaseMs };
  return { first: RECHECK_MAX_MS, cap: Math.max(RECHECK_MAX_MS, store.leaseMs / 3) };
}

/** What the renewer works with. */
export interface RenewerContext {
  readonly store: CertificateStore;
  readonly cache?: CertificateStore;
  readonly issuer: Issuer;
  readonly https: CertificateServer;
  readonly emit: (event: Untimed<ManageEvent>) => void;
  readonly clock: TimerClock;
  /** Failed attempts are tried again after `baseDelayMs` (default 60 s), doubling up to `maxDelayMs` (default 1 h). */
  readonly retry?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * Engine runs at once (default 4), whatever starts them: first obtain, due renewal, retry after
   * a failure, on-demand issuance. Bounds the store locks held and the orders in flight.
   */
  readonly concurrency?: number;
  /** The renewal jitter's randomness (default `Math.random`). */
  readonly random?: () => number;
  /** Whether the HTTPS server runs even when no certificate is served (on-demand). */
  readonly alwaysServe?: boolean;
  /** How often every certificate is compared with the store's, for stores that announce saves (default 60 s). */
  readonly checkIntervalMs?: number;
  /** The lineage configuration for on-demand names. */
  readonly configFor?: (names: readonly string[]) => LineageConfig;
}

/** Obtains, renews and takes up each slot's certificate, swapping the server's certificates after each change. */
export class Renewer {
  readonly slots: Slot[] = [];
  private readonly context: RenewerContext;
  private stopped = false;
  /** Aborted by stop(): orders not yet finalized stop (a certificate already issued is still saved). */
  private readonly stopping = new AbortController();
  private unwatch: (() => Promise<void>) | undefined;
  private check: ReturnType<TimerClock["setTimer"]> | undefined;
  private swapQueue: Promise<void> = Promise.resolve();
  private swapPending: Promise<void> | undefined;
  private readonly running = new Set<Promise<unknown>>();
  /** Start-up waits for a certificate another instance is obtaining: ended by its take-up. */
  private readonly arrivals = new Map<Slot, () => void>();
  /** Slots whose announced save is being checked before it is taken up: the start queue leaves them. */
  private readonly takingUp = new Set<Slot>();
  /** Slots whose lock another instance released without a save since their last try: tried again at once. */
  private readonly releasedSinceTry = new Set<Slot>();
  /** Saves announced while the slot's engine run was finding its lock taken: taken up once it returns. */
  private readonly heardWhileBusy = new Map<Slot, StoredLineage | undefined>();
  /** The one bound on engine runs: a slot waits here before its run takes the lineage's lock. */
  private readonly limiter: Limiter;

  /** @throws {RangeError} when `concurrency` is not a whole number of at least 1 */
  constructor(context: RenewerContext) {
    this.context = context;
    this.limiter = new Limiter(context.concurrency ?? DEFAULT_CONCURRENCY);
  }

  private emit(event: Untimed<ManageEvent>): void {
    this.context.emit(event);
  }

  private backoff(): Backoff {
    return new Backoff(this.context.retry?.baseDelayMs ?? 60_000, this.context.retry?.maxDelayMs ?? 3_600_000);
  }

  /**
   * Loads every certificate the store holds, starts serving them (the placeholder for the rest),
   * then obtains what is missing, damaged or due, `concurrency` at a time, swapping each in as it
   * arrives. Resolves once every certificate had its first attempt; those that failed are retried
   * in the background with backoff (a CA outage never stops the start).
   *
   * @throws {StoreError} `ERR_STORE_UNAVAILABLE` when the store cannot be reached and nothing is cached
   * @throws {ServerStartError} when the HTTPS port cannot be bound
   */
  async start(wanted: readonly { config: LineageConfig; serve: boolean }[]): Promise<void> {
    const now = () => this.context.clock.now();
    const loaded = await loadSlots(wanted, { ...this.context, now }, () => this.backoff());
    this.slots.push(...loaded);
    if (this.slots.some((slot) => slot.serve) || this.context.alwaysServe) await this.context.https.serve(servedSlots(this.slots));
    await this.watch();
    const needed = this.slots.filter((slot) => !slot.detached && needsWork(slot, now()));
    for (const slot of this.slots) if (!needed.includes(slot)) this.schedule(slot);
    const first = this.firstAttempts(needed);
    this.track(first);
    await first;
  }

  /** Resolves once no background work (a renewal, a retry, a take-up) is in progress: for tests driving a fake clock. */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Runs background work, counted by {@link settled}. */
  private track(work: Promise<unknown>): void {
    this.running.add(work);
    void work.catch((error: Error) => this.emit({ type: "warning", message: error.message })).finally(() => this.running.delete(work));
  }

  /**
   * Stops every timer and the store's announcements, and waits for the work in progress: an order
   * not yet finalized is abandoned (its authorizations deactivated), a certificate already issued
   * is saved, and the locks are released.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(new Error("manage() was stopped"));
    this.check?.cancel();
    for (const slot of this.slots) slot.timer?.cancel();
    for (const done of [...this.arrivals.values()]) done();
    await this.unwatch?.();
    await this.settled();
  }

  /**
   * Free locks first, then those another instance held: a fleet started together works on
   * different certificates at once instead of queueing behind the same lock. With a store that
   * announces saves, each instance starts at a random certificate and, on meeting another's lock
   * or save, moves to the middle of the longest stretch no one was seen near; a certificate another
   * instance saved (taken up from its announcement) is not tried, and one locked elsewhere, or
   * likely locked elsewhere (next to another instance's lock or save: see {@link StartQueue}), is
   * awaited (as an announcement, else by trying its lock) without holding a turn of the limiter.
   */
  private async firstAttempts(needed: readonly Slot[]): Promise<void> {
    const lockedElsewhere: Slot[] = [];
    const announced = this.context.store.watch !== undefined;
    const open = (slot: Slot) => !slot.detached && needsWork(slot, this.context.clock.now());
    const spread = announced ? Math.max(this.limiter.limit, DEFAULT_CONCURRENCY) : 0; // the others' concurrency, as far as can be guessed
    const queue = new StartQueue(needed, { open, heard: (slot) => this.takingUp.has(slot) }, announced ? (this.context.random ?? Math.random) : () => 0, spread);
    const runs = { count: 0, totalMs: 0 };
    const worker = async () => {
      for (let slot = queue.next(); slot; slot = queue.next()) {
        const began = this.context.clock.now();
        const outcome = await this.attempt(slot);
        if (outcome?.kind === "obtained") [runs.count, runs.totalMs] = [runs.count + 1, runs.totalMs + this.context.clock.now() - began];
        if (outcome?.kind === "locked-elsewhere") {
          lockedElsewhere.push(slot);
          queue.collided(slot);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.limiter.limit, needed.length) }, worker));
    // Waiting holds nothing (each try takes a turn of the limiter): every wait at once, each ended by its own announcement.
    // One only guessed held is tried once its holder, as slow as this instance's own runs, can have saved it.
    const guessedPause = Math.min(Math.max(RECHECK_MAX_MS, runs.count ? (GUESSED_HOLDER_RUNS * runs.totalMs) / runs.count : 0), RECHECK_GUESSED_MAX_MS);
    await Promise.all([
      ...lockedElsewhere.map((slot) => this.awaitHolder(slot, open)),
      ...queue.untried().map((slot) => this.awaitHolder(slot, open, guessedPause)),
    ]);
  }

  /**
   * Waits for the instance holding the slot's lock: its announcement ends the wait at once (its
   * save taken up; its release, where the store announces those, tried at once); short of it (or
   * with a store that announces nothing), the lock is tried after `firstPause` (for a lock only
   * guessed held) or {@link RECHECK_FIRST_MS}, the pauses doubling as {@link recheckPauses} says.
   * Only each try takes a turn of the limiter: waiting for
   * another instance's work holds none, so this instance's turns go to work it can do.
   * A try that gets the lock reads the store under it (the engine): what the holder saved is taken
   * up from there, and what it did not save (it failed, or died and its lease ended) is obtained.
   * Past {@link LOCK_WAIT_MS} it counts as failed and is retried like any failure.
   */
  private async awaitHolder(slot: Slot, open: (slot: Slot) => boolean, firstPause?: number): Promise<void> {
    const deadline = this.context.clock.now() + LOCK_WAIT_MS;
    const { first, cap } = recheckPauses(this.context.store);
    for (let pause = firstPause ?? first; open(slot) && !this.stopped; pause = Math.max(first, Math.min(pause * 2, cap))) {
      // A release heard is tried at once, unless a save of it was heard too (being checked): then its take-up ends the wait.
      if (!this.releasedSinceTry.has(slot) || this.takingUp.has(slot)) await this.arrival(slot, pause);
      if (!open(slot) || this.stopped) return;
      if (this.takingUp.has(slot)) continue; // its save was heard and is being checked: taken up next, nothing to try
      // When the slot needs the certificate, nothing to read first: the read under the lock decides.
      const known = needsWork(slot, this.context.clock.now()) ? (slot.current ? { lineage: slot.current } : {}) : undefined;
      const outcome = await this.attempt(slot, known);
      if (outcome?.kind !== "locked-elsewhere") return;
      if (this.context.clock.now() >= deadline) {
        return this.failed(slot, new StoreError(`Lineage ${slot.config.name} is locked by another instance past ${LOCK_WAIT_MS / 1000} s`, "ERR_STORE_LOCKED"));
      }
    }
  }

  /** Resolves when the slot's certificate is taken up from another instance's save, after `ms` at most, or at stop(). */
  private arrival(slot: Slot, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        timer.cancel();
        if (this.arrivals.get(slot) === done) this.arrivals.delete(slot);
        resolve();
      };
      const timer = this.context.clock.setTimer(done, ms);
      this.arrivals.set(slot, done);
      if (this.stopped) done();
    });
  }

  /**
   * One engine run for the slot, its lock tried once (a lock held elsewhere is the caller's to
   * await, outside the limiter); a failure is reported and retried after the backoff. Undefined
   * when it failed.
   */
  private async attempt(slot: Slot, known?: Found): Promise<LineageOutcome | undefined> {
    if (this.stopped) return undefined;
    this.releasedSinceTry.delete(slot);
    try {
      const outcome = await this.ensure(slot, 0, true, known);
      if (outcome.kind !== "locked-elsewhere") {
        slot.backoff.reset();
        this.schedule(slot);
      }
      return outcome;
    } catch (error) {
      this.failed(slot, error as Error);
      return undefined;
    }
  }

  /**
   * Runs the engine for the slot, once the limiter lets it, and applies its outcome: the slot's
   * certificate, the server's, the events, the cache. The slot counts as busy while it waits its
   * turn (a timer or announcement meanwhile starts no second run: the run reads the store itself).
   */
  private async ensure(slot: Slot, lockWait: number, swap: boolean, known?: Found): Promise<LineageOutcome> {
    slot.busy = true;
    let outcome: LineageOutcome;
    const preloaded = known ?? slot.preloaded;
    delete slot.preloaded; // read once, at start: later runs read the store again
    try {
      // A preloaded read that waited long for its turn may be stale: the engine's read under the lock still decides.
      outcome = await this.limiter.run(() => ensureLineage(this.context.store, slot.config, this.context.issuer, {
        lockWait, clock: this.context.clock, signal: this.stopping.signal, ...(slot.current ? { current: slot.current } : {}), ...(preloaded ? { preloaded } : {}),
      }), this.stopping.signal);
    } finally {
      slot.busy = false;
    }
    const heard = this.heardWhileBusy.get(slot);
    if (this.heardWhileBusy.delete(slot) && outcome.kind === "locked-elsewhere") await this.adopt(slot.config.name, heard);
    if (outcome.kind === "locked-elsewhere") return outcome;
    const changed = slot.current?.meta.serial !== outcome.lineage.meta.serial;
    slot.current = outcome.lineage;
    if (outcome.kind === "obtained" && outcome.damage) this.emit({ type: "damaged", ...subjectOf(slot.config), message: `${outcome.damage}; replaced by a new certificate` });
    const event = outcomeEvent(outcome, slot.config);
    if (event.type !== "not_due" && event.type !== "dry_run") this.emit(event);
    if (changed) {
      await keepCopy(this.context, outcome.lineage);
      if (swap && slot.serve) await this.swap();
    }
    return outcome;
  }

  /** Swaps the server's certificates; calls made while one waits join it (it reads the slots when it runs). */
  private swap(): Promise<void> {
    if (this.swapPending) return this.swapPending;
    const next = this.swapQueue.then(() => {
      this.swapPending = undefined;
      return this.context.https.serve(servedSlots(this.slots));
    });
    this.swapPending = next;
    this.swapQueue = next.catch(() => {});
    return next;
  }

  private failed(slot: Slot, error: Error): void {
    if (this.stopped) return;
    const retryIn = slot.backoff.next();
    const now = this.context.clock.now();
    this.emit(failureEvent(slot.current ?? slot.config, error, { at: new Date(now + retryIn).toISOString() }));
    if (slot.current && Date.parse(slot.current.meta.notAfter) <= now) {
      this.emit({ type: "expired", ...certificateOf(slot.current), message: `the certificate expired at ${slot.current.meta.notAfter} and is still served: no renewal has succeeded` });
    }
    slot.timer?.cancel();
    slot.timer = this.context.clock.setTimer(() => this.track(this.wake(slot)), retryIn);
  }

  /** Subscribes to the store's announcements (and a periodic check, for announcements lost while the store restarted). */
  private async watch(): Promise<void> {
    if (!this.context.store.watch) return;
    this.unwatch = await this.context.store.watch((name, lineage) => this.track(this.adopt(name, lineage)), (name) => this.released(name));
    const every = this.context.checkIntervalMs ?? 60_000;
    const tick = () => {
      if (this.stopped) return;
      for (const slot of this.slots) this.track(this.adopt(slot.config.name));
      this.check = this.context.clock.setTimer(tick, every);
    };
    this.check = this.context.clock.setTimer(tick, every);
  }

  /** Another instance released the lineage's lock without a save: a wait for it ends, and its lock is tried at once. */
  private released(name: string): void {
    const slot = this.slots.find((candidate) => candidate.config.name === name);
    if (!slot || this.stopped || this.takingUp.has(slot)) return; // a save heard before it: that is what the wait ends on
    this.releasedSinceTry.add(slot);
    this.arrivals.get(slot)?.();
  }

  /**
   * Takes up a lineage another instance saved, when it is newer than the one served and whole; a
   * damaged one is reported by name and obtained again (the others keep serving). A lineage the
   * announcement carried is taken up without reading the store.
   */
  async adopt(name: string, announced?: StoredLineage): Promise<void> {
    const slot = this.slots.find((candidate) => candidate.config.name === name);
    // Checking a lineage takes a while on a busy instance: meanwhile the start queue does not pick it.
    if (!slot || !announced) return this.adoptSlot(name, slot, announced);
    this.takingUp.add(slot);
    try {
      await this.adoptSlot(name, slot, announced);
    } finally {
      this.takingUp.delete(slot);
    }
  }

  private async adoptSlot(name: string, slot: Slot | undefined, announced?: StoredLineage): Promise<void> {
    if (slot?.busy) this.heardWhileBusy.set(slot, announced);
    if (!slot || slot.busy || slot.detached || this.stopped) return;
    if (announced && announced.config.name === name && sameIdentifiers(announced.config, slot.config)) {
      if (!this.isNewer(announced.meta, slot)) return;
      if (!(await lineageDamage(announced, this.context.clock.now()))) {
        if (!slot.busy) return this.takeUp(slot, announced);
        this.heardWhileBusy.set(slot, announced); // its engine run started meanwhile
        return;
      }
    }
    const summary = await this.context.store.summary(name).catch((error: unknown) => (error instanceof StoreError && !(error instanceof StoreUnavailableError) ? "damaged" : undefined));
    if (!summary || (summary !== "damaged" && !this.isNewer(summary.meta, slot))) return;
    const found = await inspect(this.context.store, slot.config, this.context.clock.now()).catch(() => undefined);
    if (!found || slot.busy) return;
    if (found.damage) {
      this.emit({ type: "damaged", ...subjectOf(slot.config), message: `${found.damage}; not served, obtained again` });
      slot.timer?.cancel();
      slot.timer = this.context.clock.setTimer(() => this.track(this.wake(slot)), 0);
      return;
    }
    if (found.lineage && this.isNewer(found.lineage.meta, slot)) await this.takeUp(slot, found.lineage);
  }

  private isNewer(meta: StoredLineage["meta"], slot: Slot): boolean {
    if (!slot.current) return true;
    return meta.serial !== slot.current.meta.serial && Date.parse(meta.notBefore) >= Date.parse(slot.current.meta.notBefore);
  }

  private async takeUp(slot: Slot, stored: StoredLineage): Promise<void> {
    slot.current = stored;
    delete slot.preloaded;
    this.arrivals.get(slot)?.();
    if (slot.serve) await this.swap();
    await keepCopy(this.context, stored);
    this.emit({ type: "updated", ...certificateOf(stored), message: "renewed by another instance" });
    slot.backoff.reset();
    this.schedule(slot);
  }

  /**
   * Adds a certificate for `names` (on demand): obtained now through the engine unless the store
   * has it, then renewed like the others. A lock another instance holds is awaited as every
   * other lock held elsewhere is, without a turn of the limiter (see {@link awaitOnDemandHolder}).
   * `ordered` says whether this instance placed an order for it (not when the store held it, or
   * another instance obtained it).
   *
   * @throws {AcmeError} when it cannot be obtained
   * @throws {StoreError} `ERR_STORE_LOCKED` when another instance holds its lock past {@link LOCK_WAIT_MS}
   */
  async addSlot(names: readonly string[]): Promise<AddedSlot> {
    if (!this.context.configFor) throw new TypeError("Cannot add a certificate: this renewer has no configuration for new names");
    const slot: Slot = { config: this.context.configFor(names), serve: true, backoff: this.backoff() };
    let outcome: LineageOutcome | undefined = await this.ensure(slot, 0, false);
    if (outcome.kind === "locked-elsewhere") outcome = await this.awaitOnDemandHolder(slot);
    if (!this.slots.includes(slot)) this.slots.push(slot);
    if (outcome) this.schedule(slot); // else taken up from the holder's announcement, and scheduled there
    return { served: servedSlots([slot])[0]!, ordered: outcome?.kind === "obtained" || outcome?.kind === "renewed" };
  }

  /**
   * Whether the store holds a certificate for `names` that an on-demand name would be served from
   * as it is (its names, not due): nothing to order. A damaged one, or one the store cannot give,
   * counts as none.
   */
  async storeHolds(names: readonly string[]): Promise<boolean> {
    if (!this.context.configFor) return false;
    const config = this.context.configFor(names);
    const summary = await this.context.store.summary(config.name).catch(() => undefined);
    return summary !== undefined && sameIdentifiers(summary.config, config) && !isDue(summary.meta, this.context.clock.now());
  }

  /**
   * An on-demand slot whose lock another instance holds: awaited as {@link awaitHolder} awaits
   * one, holding no turn of the limiter meanwhile (each try takes one), so that names locked
   * elsewhere never hold up this instance's renewals and first obtains. The slot joins the others
   * while it waits, so that the holder's announcement ends the wait at once (taken up, undefined);
   * a try that gets the lock returns the engine's outcome (the holder's save read under the lock,
   * or an order when the holder failed or died). On a failure the slot is dropped again.
   *
   * @throws {StoreError} `ERR_STORE_LOCKED` past {@link LOCK_WAIT_MS}; what the engine throws
   */
  private async awaitOnDemandHolder(slot: Slot): Promise<LineageOutcome | undefined> {
    const { clock } = this.context;
    const deadline = clock.now() + LOCK_WAIT_MS;
    const { first, cap } = recheckPauses(this.context.store);
    this.slots.push(slot);
    try {
      for (let pause = first; ; pause = Math.min(pause * 2, cap)) {
        await this.arrival(slot, Math.max(Math.min(pause, deadline - clock.now()), 0));
        if (slot.current) return undefined;
        this.stopping.signal.throwIfAborted();
        this.releasedSinceTry.delete(slot); // a release heard ended this pause: this try is what it asked for
        const outcome = await this.ensure(slot, 0, false);
        if (slot.current && outcome.kind === "locked-elsewhere") return undefined; // heard while its try ran, and taken up
        if (outcome.kind !== "locked-elsewhere") return outcome;
        if (clock.now() >= deadline) throw new StoreError(`Lineage ${slot.config.name} is locked by another instance past ${LOCK_WAIT_MS / 1000} s`, "ERR_STORE_LOCKED");
      }
    } catch (error) {
      this.slots.splice(this.slots.indexOf(slot) >>> 0, 1);
      slot.timer?.cancel();
      throw error;
    }
  }

  /** Sets the slot's timer for its renewal time (or its ARI re-check, whichever is first); a detached slot asks the store again after its backoff. */
  schedule(slot: Slot, delayMs?: number): void {
    if (this.stopped) return;
    slot.timer?.cancel(); // one timer per slot, whoever schedules
    const { clock } = this.context;
    if (slot.detached || !slot.current) {
      slot.timer = clock.setTimer(() => this.track(this.wake(slot)), delayMs ?? slot.backoff.next());
      return;
    }
    const { meta } = slot.current;
    this.emit({ type: "next_renewal", ...certificateOf(slot.current), at: meta.nextRenewal });
    const wake = Math.min(Date.parse(meta.nextRenewal), meta.ariRetryAt ? Date.parse(meta.ariRetryAt) : Infinity);
    const delay = delayMs ?? jitteredDelay(wake - clock.now(), Date.parse(meta.notAfter) - Date.parse(meta.notBefore), this.context.random);
    slot.timer = clock.setTimer(() => this.track(this.wake(slot)), Math.max(delay, 0));
  }

  private async wake(slot: Slot): Promise<void> {
    if (this.stopped || slot.busy) return;
    if (slot.detached) {
      try {
        await this.reattach(slot);
      } catch (error) {
        return this.failed(slot, error as Error);
      }
    }
    const outcome = await this.attempt(slot);
    if (outcome?.kind !== "locked-elsewhere") return;
    // Another instance is renewing it: awaited until its save is taken up here (or its lock is free), holding no turn meanwhile.
    const served = slot.current;
    await this.awaitHolder(slot, (candidate) => !candidate.detached && (candidate.current === served || needsWork(candidate, this.context.clock.now())));
  }

  /** A slot served from the local cache meets the store again: a newer certificate there is taken up. */
  private async reattach(slot: Slot): Promise<void> {
    const found = await inspect(this.context.store, slot.config, this.context.clock.now());
    slot.detached = false;
    slot.backoff.reset();
    this.emit({ type: "warning", ...subjectOf(slot.config), message: `${this.context.store.description} is reachable again` });
    if (found.lineage && this.isNewer(found.lineage.meta, slot)) await this.takeUp(slot, found.lineage);
  }
}

/** An on-demand certificate added: what to serve, and whether this instance ordered it (see {@link Renewer.addSlot}). */
export interface AddedSlot {
  readonly served: ServedCertificate;
  readonly ordered: boolean;
}

/** Whether the slot needs the engine now: nothing to serve, due, or its ARI answer is stale. */
function needsWork(slot: Slot, now: number): boolean {
  return !slot.current || isDue(slot.current.meta, now) || needsRenewalInfo(slot.current.meta, now);
}
