/**
 * Gives memory back once a server has gone quiet. Under load the daemon's heaps grow (request and
 * response objects, TLS buffers, the upstream connections' buffers), and neither JavaScriptCore
 * nor the allocators return all of it by themselves when the load stops. Many servers collect when
 * idle; here a full collection runs once no request has arrived for a while after some did, not on
 * a schedule: an idle server is never woken, and a busy one never collects from here.
 */
import { systemClock, type Timer, type TimerClock } from "../acme/index.ts";
import { releaseExecutablePages } from "./code-pages.ts";

/** The part of a clock the collector waits with. */
export type IdleClock = Pick<TimerClock, "now" | "setTimer">;

/** Options of an {@link IdleCollector}. */
export interface IdleCollectorOptions {
  /** Quiet time after the last request before collecting, ms (default 5,000). */
  readonly idleMs?: number;
  /** What to run (default: a full, synchronous garbage collection, which also asks mimalloc to release freed pages). */
  readonly collect?: () => void;
  readonly clock?: IdleClock;
}

/**
 * Runs one collection each time requests stop for `idleMs`: {@link IdleCollector.busy} is called
 * for every request and costs a clock read; the one timer is armed only after activity.
 */
export class IdleCollector {
  private readonly idleMs: number;
  private readonly collect: () => void;
  private readonly clock: IdleClock;
  private lastActivity = 0;
  private timer: Timer | undefined;
  /** Collections run so far (for tests and metrics). */
  collections = 0;

  constructor(options: IdleCollectorOptions = {}) {
    this.idleMs = options.idleMs ?? 5_000;
    if (!(this.idleMs > 0)) throw new RangeError(`Cannot wait ${this.idleMs} ms before collecting: it must be a positive number`);
    this.collect = options.collect ?? collectAndRelease;
    this.clock = options.clock ?? systemClock;
  }

  /** A request arrived: collect once none has for `idleMs`. */
  busy(): void {
    this.lastActivity = this.clock.now();
    if (this.timer === undefined) this.arm(this.idleMs);
  }

  /** Forgets the pending collection (the server stopped). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimer(() => this.check(), ms);
  }

  private check(): void {
    const quietFor = this.clock.now() - this.lastActivity;
    if (quietFor < this.idleMs) return this.arm(this.idleMs - quietFor); // requests came meanwhile: wait out the rest
    this.timer = undefined;
    this.collections++;
    this.collect();
  }
}

/**
 * The default collection: a full garbage collection (which also has mimalloc release freed pages),
 * JavaScriptCore asked to shrink its heap, and the executable's pages dropped ({@link releaseExecutablePages}).
 */
function collectAndRelease(): void {
  Bun.gc(true);
  Bun.shrink();
  void releaseExecutablePages();
}
