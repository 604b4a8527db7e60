/**
 * Records of an encrypted shared store as someone who can write to Redis or PostgreSQL but lacks
 * the key would attack them (real redis-server and PostgreSQL 15 from Debian): a key in clear, a
 * sealed record altered or moved to another name, a configuration in clear that names hooks. Each
 * is refused with a typed StoreError naming the record; a store written by the previous version
 * (keys sealed without associated data, configurations in clear) still opens, and is written anew.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { RedisClient } from "bun";
import { encodeBase64 } from "../../src/encoding/index.ts";
import { PostgresCertificateStore, RedisCertificateStore, StoreError, type CertificateStore, type StoredLineage } from "../../src/store/index.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(30_000);

let redis: Redis;
let postgres: Postgres;
let redisClient: RedisClient;
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(16389), startPostgres(16442)]);
  redisClient = new RedisClient(redis.url);
}, 60_000);
const pools: SQL[] = [];
afterAll(async () => {
  redisClient?.close();
  await Promise.all(pools.map((pool) => pool.close()));
  await Promise.all([redis?.stop(), postgres?.stop()]);
}, 30_000); // pg_ctl's stop through su takes seconds on a loaded machine

const KEY = crypto.getRandomValues(new Uint8Array(32));
const PLANTED_PEM = "-----BEGIN PRIVATE KEY-----\nPLANTED\n-----END PRIVATE KEY-----\n";

const lineage = (name: string, extra: Partial<StoredLineage["config"]> = {}): StoredLineage => ({
  config: {
    version: 2, name, identifiers: [{ type: "dns", value: name }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false, keyType: "ec256",
    solver: { type: "dns-01", via: "rfc2136", server: "127.0.0.1", port: 53, tsig: "hmac-sha256:acme:c2VjcmV0LXRzaWc=", propagationTimeoutSeconds: 10 },
    cli: { hooks: { deploy: "systemctl reload nginx" } }, ...extra,
  },
  meta: {
    version: 1, serial: "0A", notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
    obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime",
  },
  keyPem: "-----BEGIN PRIVATE KEY-----\nLINEAGE\n-----END PRIVATE KEY-----\n",
  chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
});

/** What a store writer can reach: raw fields, read and written behind the store's back. */
interface Backend {
  readonly kind: "redis" | "postgres";
  open(encryptionKey?: Uint8Array): Promise<CertificateStore & { close(): unknown }>;
  get(lineage: string, field: "config" | "key"): Promise<string>;
  set(lineage: string, field: "config" | "key", value: string): Promise<void>;
  setAccountKey(value: string): Promise<void>;
}

const redisBackend = (prefix: string): Backend => ({
  kind: "redis",
  open: async (encryptionKey) => new RedisCertificateStore(redis.url, { prefix, ...(encryptionKey ? { encryptionKey } : {}) }),
  get: async (name, field) => (await redisClient.send("HGET", [`${prefix}lineage:${name}`, field])) as string,
  set: async (name, field, value) => void (await redisClient.send("HSET", [`${prefix}lineage:${name}`, field, value])),
  setAccountKey: async (value) => void (await redisClient.send("HSET", [`${prefix}account`, "key", value])),
});

const postgresBackend = async (database: string): Promise<Backend> => {
  const url = await postgres.database(database);
  const sql = new SQL(url);
  pools.push(sql);
  return {
    kind: "postgres",
    open: async (encryptionKey) => new PostgresCertificateStore(url, encryptionKey ? { encryptionKey } : {}),
    get: async (name, field) => (await sql.unsafe(`select ${field} as value from bun_acme_lineages where name = $1`, [name]))[0].value,
    set: async (name, field, value) => void (await sql.unsafe(`update bun_acme_lineages set ${field} = $1 where name = $2`, [value, name])),
    setAccountKey: async (value) => void (await sql`insert into bun_acme_account (id, key) values (1, ${value}) on conflict (id) do update set key = excluded.key`),
  };
};

async function refusal(work: Promise<unknown>): Promise<StoreError> {
  const error = await work.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

/** The sealed form written before associated data (the previous version): iv || AES-GCM(pem), no name bound. */
async function legacySeal(pem: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", KEY, "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(pem)));
  return `aes-256-gcm:${encodeBase64(new Uint8Array([...iv, ...sealed]))}`;
}

let databases = 0;
const backends: (() => Promise<Backend>)[] = [
  async () => redisBackend(`sealed${++databases}:`),
  async () => postgresBackend(`sealed${++databases}`),
];

for (const [index, make] of backends.entries()) {
  const kind = index === 0 ? "redis" : "postgres";
  describe(`the ${kind} store with an encryption key`, () => {
    test("seals the configuration (hooks, TSIG secret) and keys with their names; a dump shows neither; they load whole and vouched for", async () => {
      const backend = await make();
      const store = await backend.open(KEY);
      try {
        await store.save(lineage("a.test"));
        for (const field of ["config", "key"] as const) expect(await backend.get("a.test", field)).toStartWith("v2:aes-256-gcm:");
        expect(await backend.get("a.test", "config")).not.toContain("systemctl");
        expect(await backend.get("a.test", "config")).not.toContain("c2VjcmV0LXRzaWc");
        expect(await store.load("a.test")).toEqual(lineage("a.test"));
        expect((await store.summary("a.test"))?.authenticated).toBe(true);
      } finally {
        await store.close();
      }
    });

    test("an altered sealed record, or one moved from another lineage, is refused naming it (ERR_STORE_TAMPERED)", async () => {
      const backend = await make();
      const store = await backend.open(KEY);
      try {
        await store.save(lineage("a.test"));
        await store.save(lineage("b.test", { cli: { hooks: { deploy: "echo b" } } }));
        const config = await backend.get("a.test", "config");
        const flipped = `${config.slice(0, 30)}${config[30] === "A" ? "B" : "A"}${config.slice(31)}`;
        await backend.set("a.test", "config", flipped);
        const altered = await refusal(store.summary("a.test"));
        expect(altered.code).toBe("ERR_STORE_TAMPERED");
        expect(altered.message).toContain("a.test/config: the sealed record does not open with this encryption key");
        await backend.set("a.test", "config", await backend.get("b.test", "config"));
        expect((await refusal(store.summary("a.test"))).code).toBe("ERR_STORE_TAMPERED");
        await backend.set("a.test", "config", config);
        await backend.set("a.test", "key", await backend.get("b.test", "key"));
        const moved = await refusal(store.load("a.test"));
        expect(moved.code).toBe("ERR_STORE_TAMPERED");
        expect(moved.message).toContain("a.test/key");
      } finally {
        await store.close();
      }
    });

    test("a private key or account key in clear is refused (ERR_STORE_UNSEALED), never used", async () => {
      const backend = await make();
      const store = await backend.open(KEY);
      try {
        await store.save(lineage("a.test"));
        await store.accountStorage().saveKey("-----BEGIN PRIVATE KEY-----\nACCOUNT\n-----END PRIVATE KEY-----\n");
        await backend.setAccountKey(PLANTED_PEM);
        const account = await refusal(store.accountStorage().readKey());
        expect(account.code).toBe("ERR_STORE_UNSEALED");
        expect(account.message).toContain("the private key is stored in clear, but this store's records are sealed with its key: refused");
        await backend.set("a.test", "key", PLANTED_PEM);
        expect((await refusal(store.load("a.test"))).code).toBe("ERR_STORE_UNSEALED");
      } finally {
        await store.close();
      }
    });

    test("a configuration in clear that names a hook (or a TSIG secret) is refused naming what it names; without them it is read, not vouched for", async () => {
      const backend = await make();
      const store = await backend.open(KEY);
      try {
        await store.save(lineage("a.test"));
        await backend.set("a.test", "config", JSON.stringify({ ...lineage("a.test").config, cli: { hooks: { pre: "id > /tmp/PWNED" } } }));
        const planted = await refusal(store.summary("a.test"));
        expect(planted.code).toBe("ERR_STORE_UNSEALED");
        expect(planted.message).toContain("(config): the configuration is stored in clear but names cli.hooks, solver.tsig, and this store's records are sealed");
        const plain = { ...lineage("a.test").config, cli: undefined, solver: { type: "http-01", via: "responder", bind: "0.0.0.0", port: 80 } };
        await backend.set("a.test", "config", JSON.stringify(plain));
        const read = await store.summary("a.test");
        expect(read?.config.cli).toBeUndefined();
        expect(read?.authenticated).toBe(false);
      } finally {
        await store.close();
      }
    });

    test("a store the previous version wrote (keys sealed without a name, configurations in clear) opens; the next save writes the new format", async () => {
      const backend = await make();
      const writer = await backend.open(KEY);
      // Version 1 of the configuration, as that version wrote it: read as version 2, written back as version 2.
      const plainConfig = {
        version: 1, name: "old.test", identifiers: [{ type: "dns", value: "old.test" }], directoryUrl: "https://ca.test/dir", allowInsecureHttp: false,
        challenge: "http-01", keyType: "ec256", bind: "0.0.0.0", ports: { http: 80, tls: 443, dns: 53 }, hooks: {},
      };
      try {
        await writer.save(lineage("old.test"));
        await backend.set("old.test", "config", JSON.stringify(plainConfig));
        await backend.set("old.test", "key", await legacySeal(lineage("old.test").keyPem));
        await backend.setAccountKey(await legacySeal("-----BEGIN PRIVATE KEY-----\nOLD ACCOUNT\n-----END PRIVATE KEY-----\n"));
        const loaded = await writer.load("old.test");
        expect(loaded?.keyPem).toBe(lineage("old.test").keyPem);
        expect(loaded?.config).toEqual({ ...lineage("old.test").config, cli: undefined, solver: { type: "http-01", via: "responder", bind: "0.0.0.0", port: 80 } });
        expect(await writer.accountStorage().readKey()).toContain("OLD ACCOUNT");
        await writer.save(loaded!);
        expect(await backend.get("old.test", "config")).toStartWith("v2:aes-256-gcm:");
        expect(await backend.get("old.test", "key")).toStartWith("v2:aes-256-gcm:");
        expect((await writer.summary("old.test"))?.authenticated).toBe(true);
      } finally {
        await writer.close();
      }
    });

    test("without the key: sealed records are refused as encrypted; a configuration in clear is read but not vouched for", async () => {
      const backend = await make();
      const keyless = await backend.open();
      try {
        await keyless.save(lineage("clear.test"));
        const summary = await keyless.summary("clear.test");
        expect(summary?.config.cli?.hooks?.deploy).toBe("systemctl reload nginx");
        expect(summary?.authenticated).toBe(false);
      } finally {
        await keyless.close();
      }
    });
  });
}
