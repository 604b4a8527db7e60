/**
 * Challenge answers among a fleet on Redis, without a store read per validation: each answer is
 * published on a channel every instance listens to and kept by each until it expires, so that
 * whichever instance the balancer sends the CA's request to answers from memory. It is also
 * stored (`SET … PX`, read by an instance that did not hear it) whenever an instance that ever
 * heard this one's answers may have missed it: fewer instances received it than ever did, or this
 * instance does not know yet how many listen (its first answer). An instance that starts listens
 * before it answers anything (`ready()`), so it is counted before it can be asked.
 */
import { RedisClient } from "bun";
import type { SharedChallenges } from "./certificate-store.ts";

/** How long an answer not heard yet is awaited before the store is asked for it. */
const HEARD_WAIT_MS = 200;

/** What the answers need of their store. */
export interface AnswerChannel {
  readonly url: string;
  readonly clientOptions: ConstructorParameters<typeof RedisClient>[1];
  /** The channel the answers go over. */
  readonly channel: string;
  /** The key an answer is stored under. */
  key(token: string): string;
  /** One command on the store's own connection. */
  send(command: string, args: string[]): Promise<unknown>;
}

/** Answers heard and published, and the subscription that hears them. */
export class RedisAnswers {
  private readonly heard = new Map<string, { readonly value: string; readonly until: number }>();
  private readonly waiting = new Map<string, Set<(value?: string) => void>>();
  private readonly channel: AnswerChannel;
  private subscriber: RedisClient | undefined;
  private listening = false;
  private closed = false;
  /** The most instances (this one included) that ever received one of this instance's answers. */
  private mostReceivers = 0;
  private readonly started: Promise<void>;

  constructor(channel: AnswerChannel) {
    this.channel = channel;
    this.started = this.listen();
  }

  /** Resolves once this instance hears the others' answers (or failed to, and retries meanwhile). */
  ready(): Promise<void> {
    return this.started;
  }

  /** Stops listening. */
  close(): void {
    this.closed = true;
    this.listening = false;
    this.subscriber?.close();
  }

  /** The {@link SharedChallenges} over this channel. */
  shared(): SharedChallenges {
    const { channel, key, send } = this.channel;
    return {
      publish: async (token, value, ttlMs) => {
        await this.started;
        this.keep(token, value, ttlMs);
        const receivers = Number(await send.call(this.channel, "PUBLISH", [channel, JSON.stringify({ token, value, ttlMs })]));
        const missed = !this.listening || this.mostReceivers === 0 || receivers < this.mostReceivers;
        this.mostReceivers = Math.max(this.mostReceivers, receivers);
        if (missed) await send.call(this.channel, "SET", [key.call(this.channel, token), value, "PX", String(ttlMs)]);
      },
      answer: async (token) => this.recall(token) ?? (await this.awaitHeard(token)) ?? (((await send.call(this.channel, "GET", [key.call(this.channel, token)])) as string | null) ?? undefined),
      withdraw: async (token) => {
        this.heard.delete(token);
        await send.call(this.channel, "DEL", [key.call(this.channel, token)]);
      },
    };
  }

  /**
   * The CA's request may be read before the announcement of its answer that Redis sent earlier
   * (two connections): while listening, an unknown token is awaited this long before the store is asked.
   */
  private awaitHeard(token: string): Promise<string | undefined> {
    if (!this.listening) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const done = (value?: string) => {
        clearTimeout(timer);
        this.waiting.get(token)?.delete(done);
        resolve(value);
      };
      const timer = setTimeout(done, HEARD_WAIT_MS);
      this.waiting.set(token, (this.waiting.get(token) ?? new Set()).add(done));
    });
  }

  private keep(token: string, value: string, ttlMs: number): void {
    const now = Date.now();
    for (const [known, answer] of this.heard) if (answer.until <= now) this.heard.delete(known);
    this.heard.set(token, { value, until: now + ttlMs });
    const waiters = this.waiting.get(token);
    this.waiting.delete(token);
    for (const done of waiters ?? []) done(value);
  }

  private recall(token: string): string | undefined {
    const answer = this.heard.get(token);
    return answer && answer.until > Date.now() ? answer.value : undefined;
  }

  private hear(message: string): void {
    try {
      const { token, value, ttlMs } = JSON.parse(message) as { token?: unknown; value?: unknown; ttlMs?: unknown };
      if (typeof token === "string" && typeof value === "string" && typeof ttlMs === "number") this.keep(token, value, Math.min(ttlMs, 3_600_000));
    } catch {
      // Not an answer this version wrote: the store still has it when its publisher stored it.
    }
  }

  /** Subscribes on a connection of its own; a lost one is replaced after a second (meanwhile the answers are read from the store). */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new RedisClient(this.channel.url, this.channel.clientOptions);
    this.subscriber = client;
    const retire = () => {
      if (this.subscriber !== client) return;
      this.listening = false;
      this.subscriber = undefined;
      client.close();
      if (!this.closed) setTimeout(() => void this.listen(), 1_000);
    };
    let connections = 0;
    client.onconnect = () => {
      // A reconnection within the client's retries: the server forgot the subscription, and answers were missed.
      if (++connections > 1) retire();
    };
    client.onclose = retire;
    try {
      await client.subscribe(this.channel.channel, (message) => this.hear(String(message)));
      if (this.subscriber === client && !this.closed) this.listening = true;
    } catch {
      retire();
    }
  }
}
