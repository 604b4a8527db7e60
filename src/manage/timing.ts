/**
 * When the background renewals wake: jitter that spreads renewals, and capped exponential
 * backoff after failures.
 */

/** `setTimeout` holds at most 2^31 - 1 ms (about 24.8 days); longer waits are taken in steps. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `delayMs` plus a random part of at most 1 % of the certificate's lifetime (never more than an
 * hour): many certificates obtained at once are not all renewed in the same second.
 */
export function jitteredDelay(delayMs: number, lifetimeMs: number, random: () => number = Math.random): number {
  return delayMs + random() * Math.min(lifetimeMs * 0.01, 3_600_000);
}

/** Capped exponential backoff: base, 2 × base, 4 × base, ... up to max. */
export class Backoff {
  private failures = 0;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }

  /** The wait before the next attempt. */
  next(): number {
    return Math.min(this.baseMs * 2 ** this.failures++, this.maxMs);
  }

  reset(): void {
    this.failures = 0;
  }
}
