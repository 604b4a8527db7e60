/**
 * A certificate store in Redis, through Bun's built-in client, for fleets: every instance sees the
 * same lineages, and one lock per lineage with a lease (renewed while the holder works) and a
 * check on save, so that a holder that stalled past its lease cannot overwrite what the next
 * holder wrote. Private keys can be encrypted at rest (AES-256-GCM).
 *
 * Keys, under a prefix (default `bun-acme:`): `lineages` (a set of names), `lineage:<name>` (a
 * hash: config, meta, chain, key), `lock:<name>` (the holder, with a lease), `keys-sealed` (set once
 * records are stored encrypted), `account`, `challenge:<token>` (an answer an instance asked for).
 * Channels: `changed` (saves, and locks released without one), `answers` (challenge answers). With an encryption key, `key` and
 * `config` of each lineage and the account's `key` are sealed with the record's name (e.g.
 * `bun-acme:lineage:example.net/config`) as associated data (see key-sealing.ts).
 * @see https://redis.io/docs/latest/develop/use/patterns/distributed-locks/
 */
import type { RedisClient } from "bun";
import type { AccountStorage } from "./account-state.ts";
import type { CertificateStore, LineageSummary, LoadedLineages, SaveOptions, SharedChallenges } from "./certificate-store.ts";
import { parseAnnouncement, releaseAnnouncement } from "./announcement.ts";
import { loadOrDamage } from "./load-each.ts";
import { RedisAnswers } from "./redis-answers.ts";
import { KeySealer } from "./key-sealing.ts";
import { maskSecrets } from "./secrets.ts";
import type { LockOptions, StoreLock } from "./file-lock.ts";
import { acquireLease, type LeaseLock } from "./lease-lock.ts";
import { isRedisConnectionError, StoreUnavailableError } from "./unavailable.ts";
import { checkLineageName, parseConfigRecord, parseJsonObject, parseLineageMeta, serializeLineageConfig, StoreError, type LineageMeta, type StoredLineage } from "./lineage.ts";

/** How to reach Redis and how to keep keys there. */
export interface RedisStoreOptions {
  /** Key prefix (default `bun-acme:`), so that several stores can share one Redis. */
  readonly prefix?: string;
  /** 32 bytes: private keys are stored AES-256-GCM encrypted with it (e.g. from an environment variable). */
  readonly encryptionKey?: Uint8Array;
  /** Lock lease in milliseconds (default 30 000); the holder renews it every third of that. */
  readonly leaseMs?: number;
}

/**
 * Bun's client queues commands while it reconnects, then gives up for good (measured: 20 retries
 * take 31 s, 5 take about 1.5 s). A restart shorter than that is not noticed; a longer one fails
 * the command, and the next command uses a new client.
 */
const CLIENT_OPTIONS = { connectionTimeout: 5_000, maxRetries: 5 } as const;

/** A lineage's fields in its hash. */
const LINEAGE_FIELDS = ["config", "meta", "chain", "key"] as const;

/**
 * Deletes the lock only when it still holds our token, and then announces it released (a holder
 * that saved ended its lock with the save: this runs for a run that saved nothing).
 * KEYS: lock, announcements channel. ARGV: token, announcement.
 */
const RELEASE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1`;
/** Extends the lease only when the key still holds our token. */
const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
/**
 * One save, in one round trip: the fence (the lock still holds our token, when one is given) and,
 * for a record in clear, the sealed-keys marker, read together; the record written (the name
 * added to the set when the record is new); the lock ended when asked; the announcement
 * published. 0: fenced; -1: refused, the store's records are sealed.
 * KEYS: lineage hash, lineages set, lock, keys-sealed marker. ARGV: token, name, announcement,
 * release (1/0), clear (1/0), then the hash's fields and values.
 */
const SAVE = `local token, clear = ARGV[1], ARGV[5] == '1'
if token ~= '' or clear then
  local found = redis.call('MGET', KEYS[3], KEYS[4])
  if token ~= '' and found[1] ~= token then return 0 end
  if clear and found[2] then return -1 end
end
if redis.call('HSET', KEYS[1], unpack(ARGV, 6)) > 0 then redis.call('SADD', KEYS[2], ARGV[2]) end
if token ~= '' and ARGV[4] == '1' then redis.call('DEL', KEYS[3]) end
redis.call('PUBLISH', KEYS[5], ARGV[3])
return 1`;

/** The Redis implementation of {@link CertificateStore}. */
export class RedisCertificateStore implements CertificateStore {
  readonly description: string;
  private client: RedisClient;
  private readonly url: string;
  private readonly prefix: string;
  private readonly sealer: KeySealer;
  /** The lock lease, ms (see {@link CertificateStore.leaseMs}). */
  readonly leaseMs: number;
  /** A lock released without a save is announced on `changed` (see {@link CertificateStore.announcesReleases}). */
  readonly announcesReleases = true;
  private closed = false;
  private answers: RedisAnswers | undefined;

  /**
   * @param url `redis://[user:password@]host:port[/db]`
   * @throws {RangeError} for an encryption key that is not 32 bytes
   */
  constructor(url: string, options: RedisStoreOptions = {}) {
    this.client = new Bun.RedisClient(url, CLIENT_OPTIONS); // not imported: reading `RedisClient` from "bun" at load time costs every process 0.5 ms at start
    this.url = url;
    this.prefix = options.prefix ?? "bun-acme:";
    this.leaseMs = options.leaseMs ?? 30_000;
    const shown = maskSecrets(new URL(url).href);
    this.description = `the Redis store ${shown}${shown.endsWith("/") ? "" : "/"}${this.prefix}`;
    const sealedKey = `${this.prefix}keys-sealed`;
    this.sealer = new KeySealer(options.encryptionKey, this.description, {
      isSealed: async () => (await this.send("GET", [sealedKey])) !== null,
      markSealed: async () => void (await this.send("SET", [sealedKey, "1"])),
    });
  }

  /** Closes the connections. */
  close(): void {
    this.closed = true;
    this.answers?.close();
    this.client.close();
  }

  /**
   * One command. A client that gave up reconnecting is replaced and the command sent once more.
   *
   * @throws {StoreUnavailableError} when Redis still cannot be reached
   */
  private async send(command: string, args: string[]): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const client = this.client;
      try {
        return await client.send(command, args);
      } catch (error) {
        if (!isRedisConnectionError(error)) throw error;
        if (this.client === client && !this.closed) {
          client.close();
          this.client = new Bun.RedisClient(this.url, CLIENT_OPTIONS);
        }
        if (attempt === 2 || this.closed) throw new StoreUnavailableError(this.description, error);
      }
    }
  }

  locate(): undefined {
    return undefined;
  }

  /**
   * Challenge answers published on the channel `answers` and kept by every instance listening;
   * stored under `challenge:<token>` (expiring on their own) only for an instance that did not
   * hear one and asks for it (see redis-answers.ts): no store read per validation.
   */
  sharedChallenges(): SharedChallenges {
    this.answers ??= new RedisAnswers({
      url: this.url,
      clientOptions: CLIENT_OPTIONS,
      channel: `${this.prefix}answers`,
      key: (token) => `${this.prefix}challenge:${token}`,
      send: (command, args) => this.send(command, args),
    });
    return this.answers.shared();
  }

  /** The account in the hash `account`: its key (encrypted like the others) and its record. */
  accountStorage(): AccountStorage {
    const key = `${this.prefix}account`;
    return {
      readKey: async () => {
        const stored = (await this.send("HGET", [key, "key"])) as string | null;
        return stored ? this.sealer.openKey(stored, `${key}/key`) : undefined;
      },
      saveKey: async (pem) => void (await this.send("HSET", [key, "key", await this.sealer.seal(pem, `${key}/key`)])),
      saveRecord: async (record) => void (await this.send("HSET", [key, "record", JSON.stringify(record)])),
    };
  }

  async list(): Promise<string[]> {
    const names = (await this.send("SMEMBERS", [`${this.prefix}lineages`])) as string[] | null;
    return (names ?? []).sort();
  }

  async summary(name: string): Promise<LineageSummary | undefined> {
    const [config, meta] = (await this.send("HMGET", [this.key(name), "config", "meta"])) as (string | null)[];
    return await this.parseSummary(name, config, meta);
  }

  /** The whole lineage in one round trip. */
  async load(name: string): Promise<StoredLineage | undefined> {
    const [config, meta, chain, key] = (await this.send("HMGET", [this.key(name), ...LINEAGE_FIELDS])) as (string | null)[];
    return await this.parseLineage(name, { config, meta, chain, key });
  }

  /**
   * The named lineages: one `SMEMBERS` of the stored names, then one `HMGET` for each of those
   * that is stored, all sent at once (Bun's client pipelines them): a fleet starting on an empty
   * store reads it with one command per instance.
   */
  async loadMany(names: readonly string[]): Promise<LoadedLineages> {
    const stored = new Set((await this.send("SMEMBERS", [`${this.prefix}lineages`])) as string[] | null);
    const present = names.filter((name) => stored.has(name));
    const loaded = await Promise.all(present.map((name) => loadOrDamage(name, (wanted) => this.load(wanted))));
    return new Map(present.flatMap((name, index) => (loaded[index] ? [[name, loaded[index]] as const] : [])));
  }

  /** @throws {StoreError} naming the record that is missing, damaged, unsealed or altered */
  private async parseLineage(name: string, fields: Partial<Record<(typeof LINEAGE_FIELDS)[number], string | null>>): Promise<StoredLineage | undefined> {
    const summary = await this.parseSummary(name, fields.config, fields.meta);
    if (!summary) return undefined;
    if (!fields.chain || !fields.key) throw new StoreError(`${this.description} lineage ${name}: the chain or key is missing`, "ERR_STORE_CORRUPT");
    return { config: summary.config, meta: summary.meta, chainPem: fields.chain, keyPem: await this.sealer.openKey(fields.key, `${this.key(name)}/key`) };
  }

  /** @throws {StoreError} naming the record that is missing, damaged, unsealed or altered */
  private async parseSummary(name: string, config: string | null | undefined, meta: string | null | undefined): Promise<LineageSummary | undefined> {
    if (!config) return undefined;
    const where = `${this.description} lineage ${name}`;
    if (!meta) throw new StoreError(`${where}: the metadata is missing`, "ERR_STORE_CORRUPT");
    const opened = await this.sealer.open(config, `${this.key(name)}/config`);
    return {
      ...parseConfigRecord(opened, `${where} (config)`, this.sealer.hasKey, name),
      meta: parseLineageMeta(parseJsonObject(meta, `${where} (meta)`), `${where} (meta)`),
    };
  }

  /**
   * Writes the lineage; with `lock`, only while that lock is still held (the fence).
   *
   * @throws {StoreError} `ERR_STORE_FENCED` when the lock's lease was lost to another holder
   */
  async save(lineage: StoredLineage, lock?: StoreLock, options: SaveOptions = {}): Promise<void> {
    const name = checkLineageName(lineage.config.name);
    const [config, key] = await this.sealer.sealEach([[serializeLineageConfig(lineage.config), `${this.key(name)}/config`], [lineage.keyPem, `${this.key(name)}/key`]], { checkedByWrite: true });
    const record = { config: config!, meta: JSON.stringify(lineage.meta), chain: lineage.chainPem, key: key! };
    // The announcement carries the record as stored (the key sealed as it is at rest): the other instances take it up without reading it.
    await this.write(name, Object.entries(record).flat(), lock, JSON.stringify({ name, ...record }), { clear: !this.sealer.hasKey, release: options.releaseLock === true });
  }

  async saveMeta(name: string, meta: LineageMeta, lock?: StoreLock): Promise<void> {
    await this.write(checkLineageName(name), ["meta", JSON.stringify(meta)], lock, name, { clear: false, release: false });
  }

  private async write(name: string, fields: string[], lock: StoreLock | undefined, announcement: string, how: { clear: boolean; release: boolean }): Promise<void> {
    const lease = lock as LeaseLock | undefined;
    const keys = [this.key(name), `${this.prefix}lineages`, this.lockKey(name), `${this.prefix}keys-sealed`, `${this.prefix}changed`];
    const flags = [how.release ? "1" : "0", how.clear ? "1" : "0"];
    const written = await this.send("EVAL", [SAVE, String(keys.length), ...keys, lease?.holder ?? "", name, announcement, ...flags, ...fields]);
    if (written === -1) throw this.sealer.unsealedRefused(`${this.key(name)}/config`);
    if (written !== 1) {
      throw new StoreError(`${this.description} lineage ${name}: not saved, this process's lock expired and another holder took it (fenced)`, "ERR_STORE_FENCED");
    }
    if (how.release) lease?.ended?.();
  }

  /**
   * Subscribes (on a connection of its own, as Redis requires) to the lineages saved by anyone: a
   * whole save is announced with its record, checked here as `load` checks it and handed over
   * (a record that does not pass is reported by name alone, to be read and judged by the
   * caller); a lock released without a save goes to `onRelease`. Across a Redis restart the subscription is made again, and every lineage is reported
   * once (a save announced while Redis was down reached nobody).
   */
  async watch(onChange: (name: string, lineage?: StoredLineage) => void, onRelease?: (name: string) => void): Promise<() => Promise<void>> {
    const channel = `${this.prefix}changed`;
    // Opening a sealed record takes a while: announcements are handed over in the order they came.
    let delivered: Promise<void> = Promise.resolve();
    const deliver = (message: unknown) => {
      const opening = this.announced(String(message));
      // A listener that throws must not hold up the announcements after it.
      delivered = delivered.then(() => opening).then((announced) => {
        if (!announced) return;
        if (announced.released) onRelease?.(announced.name);
        else onChange(announced.name, announced.lineage);
      }).catch(() => {});
    };
    const reportAll = async () => {
      for (const name of await this.list().catch(() => [])) onChange(name);
    };
    let stopped = false;
    let subscriber: RedisClient | undefined;
    const retire = (client: RedisClient) => {
      if (subscriber !== client || stopped) return;
      subscriber = undefined;
      client.close();
      setTimeout(() => void open(true), 1_000);
    };
    const open = async (again: boolean) => {
      const client = new Bun.RedisClient(this.url, CLIENT_OPTIONS);
      subscriber = client;
      let connections = 0;
      client.onconnect = () => {
        // A reconnection within the client's retries: the server forgot the subscription.
        if (++connections === 1 || stopped) return;
        void client.unsubscribe(channel).catch(() => {}).then(() => client.subscribe(channel, deliver)).then(reportAll, () => retire(client));
      };
      client.onclose = () => retire(client);
      try {
        await client.subscribe(channel, deliver);
        if (again) await reportAll();
      } catch {
        retire(client);
      }
    };
    await open(false);
    return async () => {
      stopped = true;
      await subscriber?.unsubscribe(channel).catch(() => {});
      subscriber?.close();
    };
  }

  /**
   * Takes the lineage's lock (`SET … PX` when absent, in a script), waiting as `options` says; the lease is renewed while
   * held. A holder that dies lets the lock go when its lease ends.
   *
   * @throws {LockHeldError} naming the holder, when the wait runs out
   */
  async lock(name: string, options: LockOptions = {}): Promise<StoreLock> {
    const key = this.lockKey(checkLineageName(name));
    const lease = String(this.leaseMs);
    const released = releaseAnnouncement(name);
    return acquireLease(`Lineage ${name}`, {
      // One SET whether free or not: with GET it names the holder it found (none: it was free, and is now ours).
      take: async (holder) => {
        const found = (await this.send("SET", [key, holder, "NX", "GET", "PX", lease])) as string | null;
        if (found === null) return true;
        // Our own token: an earlier answer of this take was lost (the command sent again): ours, the lease extended.
        if (found === holder) return (await this.send("PEXPIRE", [key, lease])) === 1;
        return { heldBy: found };
      },
      current: async () => ((await this.send("GET", [key])) as string | null) ?? undefined,
      renew: async (holder) => (await this.send("EVAL", [RENEW, "1", key, holder, lease])) === 1,
      release: (holder) => this.send("EVAL", [RELEASE, "2", key, `${this.prefix}changed`, holder, released]),
    }, this.leaseMs, options);
  }


  /** An announcement ({@link parseAnnouncement}); a record that does not pass `load`'s checks is reported by name alone. */
  private async announced(message: string): Promise<{ name: string; lineage?: StoredLineage; released?: true } | undefined> {
    const announcement = parseAnnouncement(message);
    if (!announcement?.record) return announcement;
    const lineage = await this.parseLineage(announcement.name, announcement.record).catch(() => undefined);
    return lineage ? { name: announcement.name, lineage } : { name: announcement.name };
  }

  private key(name: string): string {
    return `${this.prefix}lineage:${name}`;
  }

  private lockKey(name: string): string {
    return `${this.prefix}lock:${name}`;
  }
}
