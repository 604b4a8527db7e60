/**
 * Time, injectable: the transport's backoff, the flow's polling and manage()'s schedule read the
 * clock through these interfaces, so that tests can run hours of waiting in milliseconds.
 */

/** A source of time and waiting. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** A pending timer; cancelling one that already fired does nothing. */
export interface Timer {
  cancel(): void;
}

/** A clock that can also call back later: what schedulers (renewals, retries) take. */
export interface TimerClock extends Clock {
  /** Calls `callback` after `ms` milliseconds (waits longer than `setTimeout` allows are taken in steps). */
  setTimer(callback: () => void, ms: number): Timer;
}

/** `setTimeout` holds at most 2^31 - 1 ms (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real clock: `Date.now()`, `setTimeout`. */
export const systemClock: TimerClock = { now: () => Date.now(), sleep, setTimer: systemTimer };

function systemTimer(callback: () => void, ms: number): Timer {
  const due = Date.now() + Math.max(0, ms);
  let handle: ReturnType<typeof setTimeout>;
  const arm = () => {
    const left = due - Date.now();
    handle = left > MAX_TIMEOUT_MS ? setTimeout(arm, MAX_TIMEOUT_MS) : setTimeout(callback, Math.max(0, left));
  };
  arm();
  return { cancel: () => clearTimeout(handle) };
}

/**
 * Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts first.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
