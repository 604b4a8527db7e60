/**
 * A certificate store in PostgreSQL, through Bun's built-in client (`Bun.sql`, a connection pool),
 * for fleets that already run one. Locks are lease rows rather than advisory locks, since a pool
 * gives no session to hold one on: a row per lineage naming its holder and when its lease ends,
 * taken only when free or expired, renewed while held, checked again inside the transaction that
 * saves (the fence). Saves, and locks released without one, are announced with NOTIFY.
 *
 * Tables (prefix `bun_acme_`): `lineages`, `locks`, `challenges`, `account`, `settings`, made on first use.
 * With an encryption key, each lineage's `key` and `config` and the account's `key` are sealed with
 * the record's name (e.g. `bun_acme_lineages/example.net/config`) as associated data (see key-sealing.ts).
 * @see https://www.postgresql.org/docs/15/sql-insert.html#SQL-ON-CONFLICT
 */
import type { SQL } from "bun";
import type { AccountStorage } from "./account-state.ts";
import type { CertificateStore, LineageSummary, LoadedLineages, SaveOptions, SharedChallenges } from "./certificate-store.ts";
import { parseAnnouncement, releaseAnnouncement } from "./announcement.ts";
import { loadOrDamage } from "./load-each.ts";
import type { LockOptions, StoreLock } from "./file-lock.ts";
import { acquireLease, type LeaseLock } from "./lease-lock.ts";
import { KeySealer } from "./key-sealing.ts";
import { maskSecrets } from "./secrets.ts";
import { postgresConnectionFailure, StoreUnavailableError } from "./unavailable.ts";
import { checkLineageName, parseConfigRecord, parseJsonObject, parseLineageMeta, serializeLineageConfig, StoreError, type LineageMeta, type StoredLineage } from "./lineage.ts";

/** How to keep lineages in PostgreSQL. */
export interface PostgresStoreOptions {
  /** 32 bytes: private keys are stored AES-256-GCM encrypted with it. */
  readonly encryptionKey?: Uint8Array;
  /** Lock lease in milliseconds (default 30 000); the holder renews it every third of that. */
  readonly leaseMs?: number;
}

const CHANNEL = "bun_acme_changed";
/** NOTIFY's payload must be shorter than 8000 bytes: a record longer than this is announced by its name alone. */
const MAX_ANNOUNCED = 7_900;

/** A row of `bun_acme_lineages`. */
interface LineageRow {
  readonly name: string;
  readonly config: string;
  readonly meta: string;
  readonly chain: string;
  readonly key: string;
}
/** Bun's pool holds up to 10 connections, each of which may have been closed by a restart. */
const MAX_ATTEMPTS = 12;
/** The advisory lock key that serializes schema creation ("bunacme" in ASCII). */
const SCHEMA_LOCK = "27705087005535589";

/** The name a sealed account key is bound to. */
const ACCOUNT_KEY_RECORD = "bun_acme_account/1/key";

/** The name a lineage's sealed column is bound to. */
function recordName(lineage: string, column: "config" | "key"): string {
  return `bun_acme_lineages/${lineage}/${column}`;
}

/** The PostgreSQL implementation of {@link CertificateStore}. */
export class PostgresCertificateStore implements CertificateStore {
  readonly description: string;
  private readonly sql: SQL;
  private readonly sealer: KeySealer;
  /** The lock lease, ms (see {@link CertificateStore.leaseMs}). */
  readonly leaseMs: number;
  /** A lock released without a save is announced with NOTIFY (see {@link CertificateStore.announcesReleases}). */
  readonly announcesReleases = true;
  private schema: Promise<void> | undefined;

  /** @param url `postgres://user[:password]@host:port/database` */
  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.sql = new Bun.SQL(url); // not imported: `import { SQL } from "bun"` loads the client into every process (about 5 MiB)
    this.description = `the PostgreSQL store ${maskSecrets(new URL(url).href)}`;
    this.sealer = new KeySealer(options.encryptionKey, this.description, {
      isSealed: async () => {
        await this.ready();
        return (await this.run(() => this.sql`select 1 from bun_acme_settings where name = 'keys_sealed'`)).length > 0;
      },
      markSealed: async () => {
        await this.ready();
        await this.run(() => this.sql`insert into bun_acme_settings (name, value) values ('keys_sealed', 'aes-256-gcm') on conflict (name) do nothing`);
      },
    });
    this.leaseMs = options.leaseMs ?? 30_000;
  }

  /** Closes the pool. */
  async close(): Promise<void> {
    await this.sql.close();
  }

  locate(): undefined {
    return undefined;
  }

  /**
   * Runs a statement (or transaction), again on another pooled connection when the one it got was
   * closed by the server (after a PostgreSQL restart each pooled connection fails once).
   *
   * @throws {StoreUnavailableError} when PostgreSQL cannot be reached
   */
  private async run<T>(statement: () => PromiseLike<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await statement();
      } catch (error) {
        const failure = postgresConnectionFailure(error);
        if (failure === undefined) throw error;
        if (failure === "refused" || attempt === MAX_ATTEMPTS) throw new StoreUnavailableError(this.description, error);
      }
    }
  }

  private ready(): Promise<void> {
    // Instances started together would race on CREATE TABLE IF NOT EXISTS (a unique violation in
    // pg_type): one transaction at a time, under a transaction-scoped advisory lock.
    this.schema ??= this.run(() => this.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(${SCHEMA_LOCK}::bigint)`;
      await tx`create table if not exists bun_acme_lineages (name text primary key, config text not null, meta text not null, chain text not null, key text not null, updated_at timestamptz not null default now())`;
      await tx`create table if not exists bun_acme_locks (name text primary key, holder text not null, expires_at timestamptz not null)`;
      await tx`create table if not exists bun_acme_challenges (token text primary key, value text not null, expires_at timestamptz not null)`;
      await tx`create table if not exists bun_acme_account (id int primary key, key text, record text)`;
      await tx`create table if not exists bun_acme_settings (name text primary key, value text not null)`;
    })).then(() => undefined);
    this.schema.catch(() => (this.schema = undefined));
    return this.schema;
  }

  async list(): Promise<string[]> {
    await this.ready();
    const rows = await this.run(() => this.sql`select name from bun_acme_lineages order by name`);
    return rows.map((row: { name: string }) => row.name);
  }

  async summary(name: string): Promise<LineageSummary | undefined> {
    await this.ready();
    const [row] = await this.run(() => this.sql`select config, meta from bun_acme_lineages where name = ${name}`);
    return row ? await this.parseSummary(name, row) : undefined;
  }

  /** The whole lineage in one statement. */
  async load(name: string): Promise<StoredLineage | undefined> {
    await this.ready();
    const [row] = await this.run(() => this.sql`select config, meta, chain, key from bun_acme_lineages where name = ${name}`);
    return row ? await this.parseRow(name, row) : undefined;
  }

  /** The named lineages in one statement (`where name = any(…)`), each checked as `load` checks it. */
  async loadMany(names: readonly string[]): Promise<LoadedLineages> {
    await this.ready();
    const rows: LineageRow[] = await this.run(() => this.sql`select name, config, meta, chain, key from bun_acme_lineages where name = any(${this.sql.array([...names], "text")})`);
    const found = new Map<string, StoredLineage | StoreError>();
    for (const row of rows) {
      const lineage = await loadOrDamage(row.name, () => this.parseRow(row.name, row));
      if (lineage) found.set(row.name, lineage);
    }
    return found;
  }

  /** @throws {StoreError} naming the record that is damaged, unsealed or altered */
  private async parseRow(name: string, row: LineageRow): Promise<StoredLineage> {
    const summary = await this.parseSummary(name, row);
    return { config: summary.config, meta: summary.meta, chainPem: row.chain, keyPem: await this.sealer.openKey(row.key, recordName(name, "key")) };
  }

  /** @throws {StoreError} naming the record that is damaged, unsealed or altered */
  private async parseSummary(name: string, row: { config: string; meta: string }): Promise<LineageSummary> {
    const where = `${this.description} lineage ${name}`;
    const opened = await this.sealer.open(row.config, recordName(name, "config"));
    return {
      ...parseConfigRecord(opened, `${where} (config)`, this.sealer.hasKey, name),
      meta: parseLineageMeta(parseJsonObject(row.meta, `${where} (meta)`), `${where} (meta)`),
    };
  }

  /**
   * Writes the lineage in one statement (its own transaction): with `lock`, only while that lock's
   * lease is still ours (the row locked while it writes), and ending it when `options` says so;
   * a record in clear only while the store's records are not sealed; announced with NOTIFY,
   * carrying the record as stored when it fits, so that the other instances take it up unread.
   *
   * @throws {StoreError} `ERR_STORE_FENCED` when the lease was lost to another holder, `ERR_STORE_ENCRYPTED`
   * for a record in clear in a store whose records are sealed
   */
  async save(lineage: StoredLineage, lock?: StoreLock, options: SaveOptions = {}): Promise<void> {
    const name = checkLineageName(lineage.config.name);
    const clear = !this.sealer.hasKey;
    const [config, key] = await this.sealer.sealEach([[serializeLineageConfig(lineage.config), recordName(name, "config")], [lineage.keyPem, recordName(name, "key")]], { checkedByWrite: true });
    const row = { name, config: config!, meta: JSON.stringify(lineage.meta), chain: lineage.chainPem, key: key! };
    const record = JSON.stringify(row);
    const announcement = Buffer.byteLength(record) < MAX_ANNOUNCED ? record : name;
    const lease = lock as LeaseLock | undefined;
    const holder = lease?.holder ?? null;
    const release = options.releaseLock === true && holder !== null;
    await this.ready();
    const [outcome] = await this.run(() => this.sql`with held as (
        select 1 from bun_acme_locks where name = ${name} and holder = ${holder}::text and expires_at > now() for update
      ), sealed as (
        select 1 from bun_acme_settings where name = 'keys_sealed' and ${clear}::boolean
      ), saved as (
        insert into bun_acme_lineages (name, config, meta, chain, key, updated_at)
        select ${row.name}, ${row.config}, ${row.meta}, ${row.chain}, ${row.key}, now()
        where (${holder}::text is null or exists (select 1 from held)) and not exists (select 1 from sealed)
        on conflict (name) do update set config = excluded.config, meta = excluded.meta, chain = excluded.chain, key = excluded.key, updated_at = now()
        returning name
      ), released as (
        delete from bun_acme_locks where ${release}::boolean and name = ${name} and holder = ${holder}::text and exists (select 1 from saved)
      )
      select (select count(*) from sealed)::int as sealed, (select count(*) from (select pg_notify(${CHANNEL}, ${announcement}) from saved) as notified)::int as saved`);
    if (outcome?.sealed > 0) throw this.sealer.unsealedRefused(recordName(name, "config"));
    if (outcome?.saved !== 1) {
      throw new StoreError(`${this.description} lineage ${name}: not saved, this process's lock expired and another holder took it (fenced)`, "ERR_STORE_FENCED");
    }
    if (release) lease?.ended?.();
  }

  async saveMeta(name: string, meta: LineageMeta, lock?: StoreLock): Promise<void> {
    await this.write(checkLineageName(name), lock, async (tx) => {
      await tx`update bun_acme_lineages set meta = ${JSON.stringify(meta)}, updated_at = now() where name = ${name}`;
    });
  }

  private async write(name: string, lock: StoreLock | undefined, work: (tx: SQL) => Promise<void>): Promise<void> {
    await this.ready();
    const holder = (lock as LeaseLock | undefined)?.holder;
    const fenced = await this.run(() => this.sql.begin(async (tx) => {
      if (holder !== undefined) {
        const [held] = await tx`select 1 from bun_acme_locks where name = ${name} and holder = ${holder} and expires_at > now() for update`;
        if (!held) return true;
      }
      await work(tx as unknown as SQL);
      await tx`select pg_notify(${CHANNEL}, ${name})`;
      return false;
    }));
    if (fenced) {
      throw new StoreError(`${this.description} lineage ${name}: not saved, this process's lock expired and another holder took it (fenced)`, "ERR_STORE_FENCED");
    }
  }

  /**
   * Takes the lineage's lease row when it is free or expired, waiting as `options` says; the lease
   * is renewed while held.
   *
   * @throws {LockHeldError} naming the holder, when the wait runs out
   */
  async lock(name: string, options: LockOptions = {}): Promise<StoreLock> {
    await this.ready();
    checkLineageName(name);
    const lease = `${this.leaseMs} milliseconds`;
    return acquireLease(`Lineage ${name}`, {
      // One statement: taken (free, expired, or already ours), or the holder it found named.
      take: async (holder) => {
        const [row] = await this.run(() => this.sql`with taken as (
            insert into bun_acme_locks (name, holder, expires_at) values (${name}, ${holder}, now() + ${lease}::interval)
            on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at where bun_acme_locks.expires_at < now() or bun_acme_locks.holder = excluded.holder
            returning holder
          )
          select (select holder from taken) as taken, (select holder from bun_acme_locks where name = ${name}) as found`);
        if (row?.taken === holder) return true;
        return typeof row?.found === "string" ? { heldBy: row.found as string } : false;
      },
      current: async () => (await this.run(() => this.sql`select holder from bun_acme_locks where name = ${name}`))[0]?.holder,
      renew: async (holder) => (await this.run(() => this.sql`update bun_acme_locks set expires_at = now() + ${lease}::interval where name = ${name} and holder = ${holder} returning name`)).length > 0,
      // Announced in the same statement, only when it was ours to end: a waiter tries at once instead of polling.
      release: (holder) => this.run(() => this.sql`with released as (delete from bun_acme_locks where name = ${name} and holder = ${holder} returning name)
          select pg_notify(${CHANNEL}, ${releaseAnnouncement(name)}) from released`),
    }, this.leaseMs, options);
  }


  /**
   * Every save, by any instance, announced with NOTIFY on a connection of its own (Bun listens
   * again by itself after a restart; a save announced while PostgreSQL was down reaches nobody,
   * which manage()'s periodic check covers). While PostgreSQL cannot be reached, listening is
   * tried again every second. A save announced with its record hands the lineage over, checked as
   * `load` checks it (one that does not pass is reported by name alone, to be read by the caller);
   * a lock released without a save goes to `onRelease`.
   */
  async watch(onChange: (name: string, lineage?: StoredLineage) => void, onRelease?: (name: string) => void): Promise<() => Promise<void>> {
    let stopped = false;
    // Opening a sealed record takes a while: announcements are handed over in the order they came.
    let delivered: Promise<void> = Promise.resolve();
    const deliver = (payload: string) => {
      const opening = this.announced(payload);
      delivered = delivered.then(() => opening).then((announced) => {
        if (!announced) return;
        if (announced.released) onRelease?.(announced.name);
        else onChange(announced.name, announced.lineage);
      }).catch(() => {});
    };
    let listening: { unlisten?: () => Promise<void> } | undefined;
    const listen = async (): Promise<void> => {
      try {
        await this.ready();
        listening = await (this.sql as unknown as { listen(channel: string, callback: (payload: string) => void): Promise<{ unlisten?: () => Promise<void> }> })
          .listen(CHANNEL, (payload) => deliver(String(payload)));
        if (stopped) await listening?.unlisten?.().catch(() => {});
      } catch (error) {
        if (postgresConnectionFailure(error) === undefined && !(error instanceof StoreUnavailableError)) throw error;
        if (!stopped) setTimeout(() => void listen().catch(() => {}), 1_000);
      }
    };
    await listen();
    return async () => {
      stopped = true;
      await listening?.unlisten?.().catch(() => {});
    };
  }

  /** An announcement ({@link parseAnnouncement}); a row that does not pass `load`'s checks is reported by name alone. */
  private async announced(payload: string): Promise<{ name: string; lineage?: StoredLineage; released?: true } | undefined> {
    const announcement = parseAnnouncement(payload);
    if (!announcement?.record) return announcement;
    const { name, record } = announcement;
    const lineage = await this.parseRow(name, { name, ...record }).catch(() => undefined);
    return lineage ? { name, lineage } : { name };
  }

  sharedChallenges(): SharedChallenges {
    return {
      publish: async (token, value, ttlMs) => {
        await this.ready();
        const ttl = `${ttlMs} milliseconds`;
        // Expired answers go in the same statement (an answer need not be withdrawn: it expires).
        await this.run(() => this.sql`with expired as (delete from bun_acme_challenges where expires_at < now())
          insert into bun_acme_challenges (token, value, expires_at) values (${token}, ${value}, now() + ${ttl}::interval)
          on conflict (token) do update set value = excluded.value, expires_at = excluded.expires_at`);
      },
      answer: async (token) => {
        await this.ready();
        const [row] = await this.run(() => this.sql`select value from bun_acme_challenges where token = ${token} and expires_at > now()`);
        return row?.value as string | undefined;
      },
      withdraw: async (token) => {
        await this.ready();
        await this.run(() => this.sql`delete from bun_acme_challenges where token = ${token}`);
      },
    };
  }

  accountStorage(): AccountStorage {
    return {
      readKey: async () => {
        await this.ready();
        const [row] = await this.run(() => this.sql`select key from bun_acme_account where id = 1`);
        return row?.key ? this.sealer.openKey(row.key, ACCOUNT_KEY_RECORD) : undefined;
      },
      saveKey: async (pem) => {
        await this.ready();
        const sealed = await this.sealer.seal(pem, ACCOUNT_KEY_RECORD);
        await this.run(() => this.sql`insert into bun_acme_account (id, key) values (1, ${sealed}) on conflict (id) do update set key = excluded.key`);
      },
      saveRecord: async (record) => {
        await this.ready();
        await this.run(() => this.sql`insert into bun_acme_account (id, record) values (1, ${JSON.stringify(record)}) on conflict (id) do update set record = excluded.record`);
      },
    };
  }
}
