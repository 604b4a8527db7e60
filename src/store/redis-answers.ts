/**
 * Challenge answers among a fleet on Redis without a store read per validation. The presenter
 * publishes each answer on a channel every instance listens to, and every instance keeps what it
 * heard until it expires: whichever instance the balancer sends the CA's request to answers from
 * memory. The store holds an answer only when an instance that missed it asks for it.
 *
 * Why a presented answer is never a 404 (an instance that did not hear it, whatever the reason:
 * it was starting, its subscription dropped, the CA's request beat the message):
 * - Redis delivers a channel's messages to a subscription in the order it ran the PUBLISHes. An
 *   instance asked for an answer it does not hold (and does not hear within {@link HEARD_WAIT_MS})
 *   publishes a sync of its own and waits for it to come back: an answer published before the CA asked (the presenter published before it
 *   told the CA to validate) has then arrived, if this subscription was up when it was published.
 * - If this subscription has been up without a break for longer than any answer lives
 *   ({@link MAX_ANSWER_MS}), it heard every answer still alive: one it did not hear is not
 *   presented (404 at once). Otherwise it reads the store, and if the answer is not there,
 *   publishes a need for it and waits until it is heard or stored, for up to {@link NEED_WAIT_MS}.
 * - A presenter that hears a need for an answer it presents stores it (`SET … PX`) and publishes
 *   it again. A presenter that is not listening (so that it could miss needs) stores every answer
 *   it presents (and publishes it too), and when its subscription comes up (again) it stores each
 *   answer it had published without storing.
 * So the answer reaches the store within a need's wait unless the presenter is gone, Redis cannot
 * be reached, or the presenter's own subscription takes longer than the wait to come back.
 *
 * An instance whose subscription drops forgets what it heard (it may have missed a withdrawal):
 * it asks, as above, until it listens again. An answer heard more than {@link HEARD_FRESH_MS} ago
 * is given only after a sync: its key may have been withdrawn and presented again meanwhile.
 */
import type { RedisClient } from "bun";
import type { SharedChallenges } from "./certificate-store.ts";

/**
 * How long an instance listening waits for an answer it has not heard before it publishes a sync:
 * the CA's request often comes just before the answer's message, which is then on its way.
 */
const HEARD_WAIT_MS = 100;
/** How long an instance waits for its own sync message to come back before it reads the store. */
const SYNC_WAIT_MS = 1_000;
/**
 * How long an instance that asked for an answer waits for it: more than a presenter takes to
 * subscribe again after its subscription dropped (1 s, then connecting), less than a balancer
 * waits for an instance's answer (10 s for the tests' HAProxy).
 */
const NEED_WAIT_MS = 5_000;
/** The long way's reads after a need: 250 ms, doubling to 1 s, {@link NEED_WAIT_MS} in all. */
const NEED_PAUSES = [250, 500, 1_000, 1_000, 1_000, 1_000, 250];
/**
 * An answer heard longer ago than this is given only after a sync: its key may be used again by
 * a new presenter whose withdrawal and new answer are still on their way here (tls-alpn-01
 * answers are keyed by server name, so an answer left by a presenter that crashed without
 * withdrawing it looks like the next order's). The CA asks within seconds of an answer's
 * publication, so an answer this old being asked for is rare: one shared sync then.
 */
const HEARD_FRESH_MS = 30_000;
/** The longest an answer lives (published, heard or stored), whatever its publisher asked. */
const MAX_ANSWER_MS = 10 * 60_000;
/**
 * Unknown answers looked for the long way (a sync, a need, reads for up to {@link NEED_WAIT_MS})
 * at once. Requests for made-up tokens come from anyone on the Internet: beyond this many, a
 * lookup waits for a sync this instance publishes for all such lookups at once (one in flight,
 * one queued behind it, whatever their number), which finds an answer whose message had reached
 * this instance but not been read yet (a busy process). An instance listening for longer than an
 * answer lives stops there (no command); one whose subscription is down or younger reads the
 * store and, short of the answer, publishes a need and reads twice more (see shortLookUp): a
 * stranger cannot make a request cost the fleet a dozen commands and messages to every instance.
 */
const LONG_LOOKUPS = 4;
/** A lookup past {@link LONG_LOOKUPS} that asked for an answer reads the store again after these pauses, ms. */
const SHORT_NEED_READS = [250, 750];

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
  /** How long an answer heard is given without a sync first, ms (default {@link HEARD_FRESH_MS}). */
  readonly heardFreshMs?: number;
}

/** A message on the answers channel. */
type Message =
  | { readonly t: "answer"; readonly key: string; readonly value: string; readonly ttlMs: number }
  | { readonly t: "withdrawn"; readonly key: string }
  | { readonly t: "need"; readonly key: string }
  | { readonly t: "sync"; readonly id: string };

interface Kept {
  readonly value: string;
  readonly until: number;
  /** When it was heard (answers heard from the others). */
  readonly at?: number;
}

interface Presented extends Kept {
  /** Whether the store holds it (written when an instance needed it, or while this one did not listen). */
  stored: boolean;
}

/** Answers presented here and heard from the others, and the subscription that hears them. */
export class RedisAnswers {
  private readonly presented = new Map<string, Presented>();
  private readonly heard = new Map<string, Kept>();
  /** Syncs this instance published, and whether each came back. */
  private readonly syncs = new Map<string, boolean>();
  private readonly wakers = new Set<() => void>();
  private readonly channel: AnswerChannel;
  private subscriber: RedisClient | undefined;
  private listening = false;
  /** When the current subscription was up (0: not listening). */
  private listeningSince = 0;
  private closed = false;
  /** Lookups going the long way now (at most {@link LONG_LOOKUPS}). */
  private longLookups = 0;
  /** The sync published for the lookups past {@link LONG_LOOKUPS}, and the one queued behind it. */
  private sharedSync: Promise<boolean> | undefined;
  private queuedSync: Promise<boolean> | undefined;
  private readonly started: Promise<void>;

  constructor(channel: AnswerChannel) {
    this.channel = channel;
    this.started = this.listen();
  }

  /** Resolves once the first subscription is up (or failed: it is tried again meanwhile, and answers are asked for). */
  ready(): Promise<void> {
    return this.started;
  }

  /** Stops listening. */
  close(): void {
    this.closed = true;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.deafen();
    subscriber?.close();
  }

  /** The {@link SharedChallenges} over this channel. */
  shared(): SharedChallenges {
    return {
      publish: (token, value, ttlMs) => this.publish(token, value, ttlMs),
      answer: (token) => this.answer(token),
      withdraw: (token) => this.withdraw(token),
      ready: () => this.ready(),
    };
  }

  private async publish(key: string, value: string, ttlMs: number): Promise<void> {
    this.forgetExpired();
    const lives = Math.min(ttlMs, MAX_ANSWER_MS);
    this.presented.set(key, { value, until: Date.now() + lives, stored: false });
    this.wake();
    // Not listening, this instance could miss a need for it: stored at once.
    if (!this.listening) await this.store(key);
    await this.announce(key);
  }

  /** Publishes a presented answer, for the time it has left. */
  private async announce(key: string): Promise<void> {
    const presented = this.presented.get(key);
    const ttlMs = presented ? presented.until - Date.now() : 0;
    if (!presented || ttlMs <= 0) return;
    await this.send("PUBLISH", [this.channel.channel, JSON.stringify({ t: "answer", key, value: presented.value, ttlMs } satisfies Message)]);
  }

  private async withdraw(key: string): Promise<void> {
    const presented = this.presented.get(key);
    this.presented.delete(key);
    this.heard.delete(key);
    await this.send("PUBLISH", [this.channel.channel, JSON.stringify({ t: "withdrawn", key } satisfies Message)]);
    if (presented?.stored !== false) await this.send("DEL", [this.channel.key(key)]);
  }

  /** This instance's answer, else one heard, else one the store holds or comes to hold (see the file's comment). */
  private async answer(key: string): Promise<string | undefined> {
    const heard = this.heard.get(key);
    const fresh = this.channel.heardFreshMs ?? HEARD_FRESH_MS;
    // An old answer heard may have been replaced (a withdrawal and a new answer on their way): confirmed by a sync first.
    if (heard?.at !== undefined && !this.presented.has(key) && this.listening && Date.now() - heard.at > fresh) await this.syncFromNow();
    const known = this.recall(key);
    if (known !== undefined) return known;
    if (this.longLookups >= LONG_LOOKUPS) return this.shortLookUp(key);
    this.longLookups++;
    try {
      return await this.lookUp(key);
    } finally {
      this.longLookups--;
    }
  }

  /** The long way to an answer not held here (see the file's comment). */
  private async lookUp(key: string): Promise<string | undefined> {
    if (this.listening) {
      const heardSince = this.listeningSince;
      const soon = await this.heardWithin(key, HEARD_WAIT_MS);
      if (soon !== undefined) return soon;
      const { value, echoed } = await this.afterSync(key);
      if (value !== undefined) return value;
      // Listening since before any answer alive was published, and still, and the sync came back: it would have been heard.
      if (echoed && this.listening && this.listeningSince === heardSince && Date.now() - heardSince > MAX_ANSWER_MS) return undefined;
    }
    // Read again, more and more seldom, until the presenter has stored it (or it is heard), for NEED_WAIT_MS at most.
    return this.readOrNeed(key, NEED_PAUSES);
  }

  /**
   * The stored answer; short of it, a need published and the store read again after each pause
   * (or the answer heard meanwhile).
   */
  private async readOrNeed(key: string, pauses: readonly number[]): Promise<string | undefined> {
    const stored = await this.read(key);
    if (stored !== undefined) return stored;
    await this.send("PUBLISH", [this.channel.channel, JSON.stringify({ t: "need", key } satisfies Message)]);
    for (const pause of pauses) {
      const readAt = Date.now() + pause;
      while (this.recall(key) === undefined && Date.now() < readAt) await this.nextEvent(readAt - Date.now());
      const value = this.recall(key) ?? (await this.read(key));
      if (value !== undefined) return value;
    }
    return this.recall(key);
  }

  /**
   * The way of a lookup past {@link LONG_LOOKUPS}: heard, else heard by a sync shared with the
   * others; then, when this subscription has been up for longer than any answer lives, nothing
   * more (it would have been heard: no command). Otherwise (it is down, or came up since the
   * answer may have been published) a store read, and if the answer is not there a need and
   * {@link SHORT_NEED_READS} more reads: a constant few commands, not the long way's.
   */
  private async shortLookUp(key: string): Promise<string | undefined> {
    const soon = await this.heardWithin(key, HEARD_WAIT_MS);
    if (soon !== undefined) return soon;
    if (this.listening) {
      const since = this.listeningSince;
      const echoed = await this.syncFromNow();
      const heard = this.recall(key);
      if (heard !== undefined) return heard;
      if (echoed && this.listening && this.listeningSince === since && Date.now() - since > MAX_ANSWER_MS) return undefined;
    }
    return this.readOrNeed(key, SHORT_NEED_READS);
  }

  /**
   * Resolves once a sync published after this call came back (true) or its wait ran out: the one
   * starting now if none is in flight, else the one queued behind it, shared by every caller
   * meanwhile. At most two syncs for the lookups past {@link LONG_LOOKUPS}, however many they are.
   */
  private syncFromNow(): Promise<boolean> {
    if (!this.sharedSync) {
      this.sharedSync = this.afterSync().then(({ echoed }) => echoed, () => false).finally(() => (this.sharedSync = undefined));
      return this.sharedSync;
    }
    this.queuedSync ??= this.sharedSync.then(() => {
      this.queuedSync = undefined;
      return this.syncFromNow();
    });
    return this.queuedSync;
  }

  /** The answer, once heard within `ms` (while listening). */
  private async heardWithin(key: string, ms: number): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    while (this.recall(key) === undefined && this.listening && Date.now() < deadline) await this.nextEvent(deadline - Date.now());
    return this.recall(key);
  }

  /** Publishes a sync and waits for it to come back (or `key`'s answer): every answer published before then has arrived on this subscription. */
  private async afterSync(key?: string): Promise<{ value?: string; echoed: boolean }> {
    const id = crypto.randomUUID();
    const found = () => (key === undefined ? undefined : this.recall(key));
    this.syncs.set(id, false);
    try {
      await this.send("PUBLISH", [this.channel.channel, JSON.stringify({ t: "sync", id } satisfies Message)]);
      const deadline = Date.now() + SYNC_WAIT_MS;
      while (found() === undefined && this.syncs.get(id) === false && this.listening && Date.now() < deadline) {
        await this.nextEvent(deadline - Date.now());
      }
      const value = found();
      return { ...(value !== undefined ? { value } : {}), echoed: this.syncs.get(id) === true };
    } finally {
      this.syncs.delete(id);
    }
  }

  private async read(key: string): Promise<string | undefined> {
    return ((await this.send("GET", [this.channel.key(key)])) as string | null) ?? undefined;
  }

  /** Writes a presented answer to the store, for the time it has left. */
  private async store(key: string): Promise<void> {
    const presented = this.presented.get(key);
    const left = presented ? presented.until - Date.now() : 0;
    if (!presented || presented.stored || left <= 0) return;
    presented.stored = true;
    try {
      await this.send("SET", [this.channel.key(key), presented.value, "PX", String(left)]);
    } catch (error) {
      presented.stored = false;
      throw error;
    }
  }

  private send(command: string, args: string[]): Promise<unknown> {
    return this.channel.send(command, args);
  }

  private recall(key: string): string | undefined {
    const now = Date.now();
    const kept = this.presented.get(key) ?? this.heard.get(key);
    return kept && kept.until > now ? kept.value : undefined;
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const kept of [this.presented, this.heard]) for (const [key, { until }] of kept) if (until <= now) kept.delete(key);
  }

  /** Resolves at the next message heard (or subscription change), or after `ms`. */
  private nextEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const done of [...this.wakers]) done();
  }

  private hear(text: string): void {
    let message: Partial<Message> & { t?: unknown };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      return; // not a message this version writes
    }
    if (message.t === "answer" && typeof message.key === "string" && typeof message.value === "string" && typeof message.ttlMs === "number") {
      if (this.heard.size > 256) this.forgetExpired();
      this.heard.set(message.key, { value: message.value, until: Date.now() + Math.min(message.ttlMs, MAX_ANSWER_MS), at: Date.now() });
    } else if (message.t === "withdrawn" && typeof message.key === "string") {
      this.heard.delete(message.key);
    } else if (message.t === "need" && typeof message.key === "string") {
      // Only when presented here: stored for a deaf asker, published again for one listening (a failed write is made again at the next need).
      const key = message.key;
      if (this.presented.has(key)) void this.store(key).then(() => this.announce(key)).catch(() => {});
    } else if (message.t === "sync" && typeof message.id === "string" && this.syncs.has(message.id)) {
      this.syncs.set(message.id, true);
    }
    this.wake();
  }

  /** Not listening: what was heard may be missing a withdrawal, and needs are not heard. */
  private deafen(): void {
    this.listening = false;
    this.listeningSince = 0;
    this.heard.clear();
    this.wake();
  }

  /**
   * Subscribes on a connection of its own; a lost one is replaced after a second. Once up, every
   * answer this instance published without storing is stored: it may have missed needs for them.
   */
  private async listen(): Promise<void> {
    if (this.closed) return;
    const client = new Bun.RedisClient(this.channel.url, this.channel.clientOptions);
    this.subscriber = client;
    const retire = () => {
      if (this.subscriber !== client) return;
      this.deafen();
      this.subscriber = undefined;
      client.close();
      if (!this.closed) setTimeout(() => void this.listen(), 1_000);
    };
    let connections = 0;
    client.onconnect = () => {
      // A reconnection within the client's retries: the server forgot the subscription, and messages were missed.
      if (++connections > 1) retire();
    };
    client.onclose = retire;
    try {
      await client.subscribe(this.channel.channel, (message) => this.hear(String(message)));
      if (this.subscriber !== client || this.closed) return;
      this.listening = true;
      this.listeningSince = Date.now();
      await Promise.all([...this.presented.keys()].map((key) => this.store(key).catch(() => {})));
    } catch {
      retire();
    }
  }
}
