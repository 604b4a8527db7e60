/**
 * Gives memory back once a server has gone quiet. Under load the daemon's heaps grow (request and
 * response objects, TLS buffers, the upstream connections' buffers), and neither JavaScriptCore
 * nor the allocators return all of it by themselves when the load stops. Many servers collect when
 * idle; here a full collection runs once no request has arrived for a while after some did, not on
 * a schedule: an idle server is never woken, and a busy one never collects from here.
 */
import { systemClock, type Timer, type TimerClock } from "../acme/index.ts";

/** The part of a clock the collector waits with. */
export type IdleClock = Pick<TimerClock, "now" | "setTimer">;

/** Options of an {@link IdleCollector}. */
export interface IdleCollectorOptions {
  /** Quiet time after the last request before collecting, ms (default 5,000). */
  readonly idleMs?: number;
  /**
   * Least time from one collection to the next, ms (default 10,000): with a request every few
   * seconds, each quiet spell would otherwise cost a collection.
   */
  readonly minIntervalMs?: number;
  /**
   * Wait after a {@link IdleCollector.changed} (a certificate swap) before collecting, requests or
   * not, ms (default 1,000): what the swap's work (obtaining, checking, loading certificates) left
   * behind is given back even by a server that is never idle.
   */
  readonly afterChangeMs?: number;
  /** What to run (default: a full, synchronous garbage collection, which also asks mimalloc to release freed pages). */
  readonly collect?: () => void;
  readonly clock?: IdleClock;
}

/**
 * Runs one collection each time requests stop for `idleMs`, and one `afterChangeMs` after a swap
 * whether requests stop or not; at most one per `minIntervalMs`. {@link IdleCollector.busy} is
 * called for every request and costs a clock read; the one timer is armed only after activity.
 */
export class IdleCollector {
  private readonly idleMs: number;
  private readonly minIntervalMs: number;
  private readonly afterChangeMs: number;
  private readonly collect: () => void;
  private readonly clock: IdleClock;
  private lastActivity = 0;
  private lastCollection = Number.NEGATIVE_INFINITY;
  /** When the latest swap not yet followed by a collection happened. */
  private changedAt: number | undefined;
  private timer: Timer | undefined;
  /** Collections run so far (for tests and metrics). */
  collections = 0;

  constructor(options: IdleCollectorOptions = {}) {
    this.idleMs = options.idleMs ?? 5_000;
    this.minIntervalMs = options.minIntervalMs ?? 10_000;
    this.afterChangeMs = options.afterChangeMs ?? 1_000;
    if (!(this.idleMs > 0)) throw new RangeError(`Cannot wait ${this.idleMs} ms before collecting: it must be a positive number`);
    if (!(this.afterChangeMs >= 0)) throw new RangeError(`Cannot wait ${this.afterChangeMs} ms after a swap: it must be zero or more`);
    if (!(this.minIntervalMs >= 0)) throw new RangeError(`Cannot keep ${this.minIntervalMs} ms between collections: it must be zero or more`);
    this.collect = options.collect ?? collectAndRelease;
    this.clock = options.clock ?? systemClock;
  }

  /** A request arrived: collect once none has for `idleMs`. */
  busy(): void {
    this.lastActivity = this.clock.now();
    if (this.timer === undefined) this.arm(this.idleMs); // requests only ever move the time due later: a timer already set re-arms itself
  }

  /** The served certificates were swapped (or first loaded): collect `afterChangeMs` after the latest swap. */
  changed(): void {
    const now = this.clock.now();
    this.lastActivity = now;
    this.changedAt = now;
    this.timer?.cancel(); // the time due may be sooner than the timer set
    this.arm(Math.max(0, this.dueAt() - now));
  }

  /** Forgets the pending collection (the server stopped). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(() => this.check(), ms);
  }

  /** Quiet for `idleMs`, or `afterChangeMs` after a swap, whichever comes first; never within `minIntervalMs` of the last collection. */
  private dueAt(): number {
    const afterChange = this.changedAt === undefined ? Number.POSITIVE_INFINITY : this.changedAt + this.afterChangeMs;
    return Math.max(Math.min(this.lastActivity + this.idleMs, afterChange), this.lastCollection + this.minIntervalMs);
  }

  private check(): void {
    const now = this.clock.now();
    const wait = this.dueAt() - now; // requests came meanwhile, or the last collection was recent: wait out the rest
    if (wait > 0) return this.arm(wait);
    this.timer = undefined;
    this.changedAt = undefined;
    this.lastCollection = now;
    this.collections++;
    this.collect();
  }
}

/**
 * The default collection: a full garbage collection (which also has mimalloc release freed pages)
 * and JavaScriptCore asked to shrink its heap. The executable's code pages are left mapped:
 * dropping them (madvise) lowers the RSS figure but not the memory the machine spends, since the
 * page cache keeps them (docs/benchmarks.md, "Memory").
 */
function collectAndRelease(): void {
  Bun.gc(true);
  Bun.shrink();
}
