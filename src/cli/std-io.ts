/**
 * The process's standard output and error as the commands' {@link CommandIo}: lines written
 * through Bun's file sinks, never blocking the event loop, and drained before the process exits.
 */
import { fstatSync } from "node:fs";
import type { CommandIo } from "./command.ts";

/** One standard stream, written a line at a time. */
interface LineWriter {
  write(line: string): void;
  /** Resolves once every line written has reached the reader, or the reader went away. */
  drain(): Promise<void>;
}

/** How long `main` lets the drain wait after a stop by signal: a stalled log reader must not keep a stopped daemon alive. */
export const DRAIN_LIMIT_MS = 5_000;

/**
 * The process's environment, standard output and standard error. `drain(limitMs)` resolves once
 * both streams' readers have taken every line, or after `limitMs` when given: `process.exit`
 * drops whatever a pipe has not taken yet (measured: `| wc -c` got 196 KB of 1 MB written just
 * before it), so `main` awaits it, without a limit as any command-line tool's writes would (a
 * slow `| less` gets the whole list), and with {@link DRAIN_LIMIT_MS} after a stop by signal.
 */
export function standardIo(): CommandIo & { drain(limitMs?: number): Promise<void> } {
  const out = lineWriter(() => Bun.stdout.writer(), (code) => errors().write(`bun-acme: warning: cannot write standard output (${code}): its lines are dropped while this lasts`));
  let err: LineWriter | undefined;
  // Both on one pipe or socket (`2>&1 |`, journald's StandardError=inherit): one sink keeps their
  // lines in order. With a sink each, each held its own backlog while the reader lagged, and an
  // error line overtook the output lines written before it. Decided at the first error line.
  // A standard error that cannot be written has nowhere left to say so: its failure is silent.
  const errors = () => (err ??= sameFile(1, 2) ? out : lineWriter(() => Bun.stderr.writer(), () => {}));
  return {
    env: process.env,
    out: (line) => out.write(line),
    err: (line) => errors().write(line),
    drain: async (limitMs) => {
      const drained = Promise.all([out.drain(), err?.drain()]);
      if (limitMs === undefined) return void (await drained);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => (timer = setTimeout(resolve, limitMs)))]);
      clearTimeout(timer);
    },
  };
}

/** Whether two descriptors lead to the same file, pipe, socket or terminal. */
function sameFile(fd: number, other: number): boolean {
  try {
    const [a, b] = [fstatSync(fd), fstatSync(other)];
    return a.dev === b.dev && a.ino === b.ino;
  } catch {
    return false;
  }
}

/**
 * Writes lines to a standard stream until its reader goes away (`bun-acme ... | head -1`): then
 * EPIPE is swallowed, later lines are dropped, and the run goes on to its normal end. Any other
 * write error (ENOSPC: a log file on a full disk) drops the line that failed, tells `failed` the
 * first time, and later lines are tried again: a log line that cannot be written never aborts an
 * issuance or a daemon's renewals. A reader slower than the lines (a full pipe, a busy journald)
 * gets them later, held in memory: a write never stops the event loop. The sink is made at the
 * first line, and is Bun's file sink rather than `process.stdout`, which Bun builds when first
 * read, 6 ms of the main thread (a warm `serve` would pay them before its first handshake).
 */
function lineWriter(open: () => Bun.FileSink, failed: (code: string) => void): LineWriter {
  let sink: Bun.FileSink | undefined;
  let closed = false;
  let told = false;
  const onError = (error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    if (code === "EPIPE") closed = true;
    else if (!told) {
      told = true;
      failed(code);
    }
  };
  // Bun's sink answers a write of 4 KiB or more, and a flush, with a Promise when the write is
  // not done at once; its rejection (EPIPE, ENOSPC) must be handled like a thrown error.
  const settle = (pending: unknown): Promise<void> | undefined =>
    pending instanceof Promise ? pending.then(() => {}, onError) : undefined;
  const flush = (): Promise<void> | undefined => {
    try {
      return settle(sink!.flush());
    } catch (error) {
      onError(error);
      return undefined;
    }
  };
  return {
    write(line) {
      if (closed) return;
      sink ??= open();
      try {
        void settle(sink.write(`${line}\n`));
      } catch (error) {
        return onError(error);
      }
      void flush(); // a rejection is handled inside: EPIPE closes, any other error drops the line
    },
    async drain() {
      if (!closed && sink) await flush();
    },
  };
}
