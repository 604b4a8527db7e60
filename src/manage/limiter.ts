/**
 * The bound on manage()'s engine runs: every obtain, renewal, retry and on-demand issuance takes
 * a permit first, so that an instance never holds more store locks or orders in flight than the
 * bound, however many certificates come due or fail at once.
 */

/** A first-in, first-out counting semaphore: at most `limit` runs at once, the others wait their turn. */
export class Limiter {
  readonly limit: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  /** @throws {RangeError} when `limit` is not a whole number of at least 1 */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`Cannot bound renewal work to ${limit} at once: give a whole number of at least 1`);
    this.limit = limit;
  }

  /** Runs in progress now (holding a permit). */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Runs `work` once a permit is free, and frees it when the work ends. Waiting holds nothing
   * but a place in the queue: the work takes its lock only once it runs.
   *
   * @throws the signal's reason when it aborts while waiting (the work is then never run)
   */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const abort = () => {
        const index = this.waiting.indexOf(grant);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(signal!.reason);
      };
      // The permit is handed over as it is: `active` stays counted from one run to the next.
      const grant = () => {
        signal?.removeEventListener("abort", abort);
        resolve();
      };
      this.waiting.push(grant);
      signal?.addEventListener("abort", abort, { once: true });
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
