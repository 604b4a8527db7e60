/**
 * A FAKE clock with timers, for the lifecycle engine and manage()'s scheduler: time moves only
 * when a test advances it (or when code under test sleeps, which moves time forward by the sleep
 * and fires the timers that became due), so hours of renewals, backoff and ARI re-checks run in
 * milliseconds. Real timers cannot be driven that way; that is why this is a fake.
 */
import type { Timer, TimerClock } from "../../src/acme/index.ts";

interface Pending {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A clock whose time a test moves. */
export class FakeTimerClock implements TimerClock {
  private time: number;
  private readonly timers: Pending[] = [];
  private order = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, ms: number): Timer {
    const pending: Pending = { at: this.time + Math.max(0, ms), order: this.order++, callback, cancelled: false };
    this.timers.push(pending);
    return { cancel: () => void (pending.cancelled = true) };
  }

  /** Moves time forward by `ms` at once (the waiter's view of a sleep) and fires what became due. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.time += Math.max(0, ms);
    this.fireDue();
    await Promise.resolve();
    signal?.throwIfAborted();
  }

  /** When the earliest live timer is due, if any. */
  nextAt(): number | undefined {
    const live = this.live();
    return live.length ? Math.min(...live.map((timer) => timer.at)) : undefined;
  }

  /** Live timers. */
  pending(): number {
    return this.live().length;
  }

  /** Moves time to the earliest timer and fires every timer due then; the time it moved to. */
  runNext(): number | undefined {
    const at = this.nextAt();
    if (at === undefined) return undefined;
    this.time = Math.max(this.time, at);
    this.fireDue();
    return at;
  }

  /** Moves time forward by `ms`, firing timers in their order as their time comes. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (let at = this.nextAt(); at !== undefined && at <= end; at = this.nextAt()) {
      this.time = Math.max(this.time, at);
      this.fireDue();
    }
    this.time = end;
  }

  private live(): Pending[] {
    return this.timers.filter((timer) => !timer.cancelled);
  }

  private fireDue(): void {
    const due = this.live().filter((timer) => timer.at <= this.time).sort((a, b) => a.at - b.at || a.order - b.order);
    for (const timer of due) {
      timer.cancelled = true;
      timer.callback();
    }
    for (let index = this.timers.length - 1; index >= 0; index--) if (this.timers[index]!.cancelled) this.timers.splice(index, 1);
  }
}
