/**
 * Reads a child process's output line by line and lets a test await a line, instead of sleeping.
 */
export class LineReader {
  private readonly lines: string[] = [];
  private readonly listeners: ((line: string) => void)[] = [];
  private readonly waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  private ended = false;
  private endWaiters: (() => void)[] = [];
  /** Resolves when the stream has ended. */
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = this.pump(stream);
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      partial += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = partial.indexOf("\n")) >= 0) {
        this.push(partial.slice(0, newline));
        partial = partial.slice(newline + 1);
      }
    }
    if (partial) this.push(partial);
    this.ended = true;
    for (const notify of this.endWaiters) notify();
  }

  private push(line: string): void {
    this.lines.push(line);
    for (const listener of this.listeners) listener(line);
    for (const waiter of this.waiters) {
      if (waiter.match(line)) {
        this.waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  }

  /** Calls `listener` for every line, those already read first. */
  listen(listener: (line: string) => void): void {
    for (const line of this.lines) listener(line);
    this.listeners.push(listener);
  }

  /** How many lines have been read so far. */
  get count(): number {
    return this.lines.length;
  }

  /** The lines from index `from` on. */
  linesFrom(from: number): string[] {
    return this.lines.slice(from);
  }

  /** Everything read so far. */
  text(): string {
    return this.lines.map((line) => `${line}\n`).join("");
  }

  /**
   * Resolves with the first line (already read or still to come) that matches; rejects when the
   * stream ends without one, or after `timeoutMs` as a safety net.
   */
  waitFor(match: (line: string) => boolean, timeoutMs = 30_000, from = 0): Promise<string> {
    const seen = this.lines.slice(from).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (line: string) => {
        clearTimeout(timer);
        resolve(line);
      } };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
      const onEnd = () => {
        if (!this.waiters.has(waiter)) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        reject(new Error("the output ended without a matching line"));
      };
      if (this.ended) onEnd();
      else this.endWaiters.push(onEnd);
    });
  }
}
