/**
 * Polling with a short first wait, exponential backoff up to a cap, and `Retry-After` taking precedence.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.1 (clients poll; servers may send Retry-After)
 */
import { systemClock, type Clock } from "./clock.ts";
import { AcmeTimeoutError } from "./errors.ts";
import type { Fetched } from "./types.ts";

/** The first wait between polls, unless {@link PollOptions.initialDelayMs} says otherwise. */
export const DEFAULT_INITIAL_DELAY_MS = 10;

/** How to poll. */
export interface PollOptions {
  /** First wait in milliseconds (default 10: a CA on loopback often finishes within it; the waits double from there). */
  readonly initialDelayMs?: number;
  /** Longest wait between two polls when the server gives no `Retry-After` (default 2000). */
  readonly maxDelayMs?: number;
  /** Give up after this many milliseconds of polling (default 120 000). */
  readonly timeoutMs?: number;
  /** Stops waiting at once when aborted. */
  readonly signal?: AbortSignal;
  /** Called each time the resource is found not done yet, i.e. once per further poll. */
  readonly onWait?: () => void;
  /** Time and waiting (default: the system clock). */
  readonly clock?: Clock;
}

/**
 * Fetches a resource until `isDone` holds for it, waiting between polls as {@link PollOptions}
 * says. A `Retry-After` from the server replaces the computed delay, but never past the deadline.
 *
 * @throws {AcmeTimeoutError} when the deadline passes first
 * @throws the signal's reason when aborted
 */
export async function pollUntil<T>(
  what: string,
  fetchOnce: () => Promise<Fetched<T>>,
  isDone: (body: T) => boolean,
  options: PollOptions = {},
  first?: Fetched<T>,
): Promise<Fetched<T>> {
  const clock = options.clock ?? systemClock;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = clock.now() + timeoutMs;
  let delay = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const maxDelay = options.maxDelayMs ?? 2_000;
  let current = first ?? (await fetchOnce());
  while (!isDone(current.body)) {
    const remaining = deadline - clock.now();
    if (remaining <= 0) throw new AcmeTimeoutError(what, Math.round(timeoutMs / 1000));
    options.onWait?.();
    await clock.sleep(Math.min(current.retryAfterMs ?? delay, remaining), options.signal);
    delay = Math.min(delay * 2, maxDelay);
    current = await fetchOnce();
  }
  return current;
}
