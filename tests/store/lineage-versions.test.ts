/**
 * lineage.json version 1 (as main d430fee wrote it: tests/store/fixtures/v1-d430fee) opens as
 * version 2 in every store (the file store, the memory store, real redis-server and PostgreSQL 15
 * records) through the one parser, and is written back as version 2 on the next save; a bad key
 * type or solver spec is a StoreError naming the file and the field when the lineage is read,
 * not an error at renewal time.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { SQL } from "bun";
import { RedisClient } from "bun";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  FileCertificateStore,
  MemoryCertificateStore,
  parseLineageConfig,
  PostgresCertificateStore,
  readLineageConfig,
  RedisCertificateStore,
  StoreError,
  type CertificateStore,
  type LineageConfig,
} from "../../src/store/index.ts";
import { FieldError } from "../../src/validate/index.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(30_000);

const FIXTURE = join(import.meta.dir, "fixtures", "v1-d430fee");
const v1Text = (name: string) => readFileSync(join(FIXTURE, "certificates", name, "lineage.json"), "utf8");
const CLI_CONFIGS = JSON.parse(readFileSync(join(FIXTURE, "cli-configs.json"), "utf8")) as Record<string, Record<string, unknown>>;

const PEBBLE = "https://127.0.0.1:14000/dir";
const ROOTS = "/tmp/bun-acme-tls-k6wLBZ/root.pem";
/** What each version 1 lineage of the fixture is, read as version 2. */
const EXPECTED: Readonly<Record<string, LineageConfig>> = {
  "v1.test": {
    version: 2, name: "v1.test", identifiers: [{ type: "dns", value: "v1.test" }, { type: "dns", value: "www.v1.test" }], directoryUrl: PEBBLE,
    allowInsecureHttp: false, caFile: ROOTS, keyType: "ec384", solver: { type: "http-01", via: "responder", bind: "127.0.0.1", port: 5002 },
    cli: { hooks: { pre: "echo pre", deploy: "echo deployed" }, out: "/tmp/genv1/copies" },
  },
  "dns.v1.test": {
    version: 2, name: "dns.v1.test", identifiers: [{ type: "dns", value: "*.dns.v1.test" }], directoryUrl: PEBBLE, allowInsecureHttp: false, caFile: ROOTS,
    keyType: "ec256", solver: { type: "dns-01", via: "responder", bind: "0.0.0.0", port: 10053, record: "127.0.0.1" },
  },
  // manage()'s version 1 record cannot be told from a command's: its http port is kept, its made-up ports.dns 53 and hooks {} are dropped.
  "manage.v1.test": {
    version: 2, name: "manage.v1.test", identifiers: [{ type: "dns", value: "manage.v1.test" }], directoryUrl: PEBBLE, allowInsecureHttp: false,
    keyType: "ec256", solver: { type: "http-01", via: "responder", bind: "127.0.0.1", port: 5002 },
  },
};
const NAMES = Object.keys(EXPECTED);

/** A file store holding a copy of the fixture (its files as main wrote them). */
function fixtureStore(): { store: FileCertificateStore; dir: string } {
  const dir = makeTempDir("bun-acme-v1-store-");
  cpSync(join(FIXTURE, "certificates"), join(dir, "certificates"), { recursive: true });
  return { store: new FileCertificateStore(dir), dir };
}

async function refusal(work: Promise<unknown> | (() => unknown)): Promise<StoreError> {
  const error = typeof work === "function" ? (() => { try { work(); } catch (caught) { return caught; } })() : await work.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(StoreError);
  return error as StoreError;
}

describe("lineage.json version 1, as main d430fee wrote it, in the file store", () => {
  test.each(NAMES)("%s opens as version 2: names, CA, roots, key type kept; the solver a spec; hooks and --out under cli", async (name) => {
    const { store } = fixtureStore();
    expect((await store.summary(name))?.config).toEqual(EXPECTED[name]!);
    const loaded = await store.load(name);
    expect(loaded?.keyPem).toBe(readFileSync(join(FIXTURE, "certificates", name, "privkey.pem"), "utf8"));
    expect(loaded?.chainPem).toBe(readFileSync(join(FIXTURE, "certificates", name, "fullchain.pem"), "utf8"));
  });

  test("the next save writes version 2 (and nothing of version 1); it reads back the same, and the metadata is untouched", async () => {
    const { store, dir } = fixtureStore();
    const folder = join(dir, "certificates", "v1.test");
    const metadata = readFileSync(join(folder, "metadata.json"), "utf8");
    const loaded = (await store.load("v1.test"))!;
    await store.save(loaded);
    const written = JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"));
    expect(written).toEqual(EXPECTED["v1.test"]!);
    for (const gone of ["challenge", "bind", "ports", "hooks", "out"]) expect(written).not.toHaveProperty(gone);
    expect(await new FileCertificateStore(dir).load("v1.test")).toEqual(loaded);
    expect(JSON.parse(readFileSync(join(folder, "metadata.json"), "utf8"))).toEqual(JSON.parse(metadata));
  });

  test("an empty hook command (which ran nothing) is dropped, in either version", () => {
    const v1 = { ...JSON.parse(v1Text("dns.v1.test")), hooks: { pre: "", deploy: "true" } };
    expect(parseLineageConfig(v1, "lineage.json").cli).toEqual({ hooks: { deploy: "true" } });
    expect(parseLineageConfig({ ...EXPECTED["dns.v1.test"]!, cli: { hooks: { post: "" } } }, "lineage.json").cli).toBeUndefined();
  });

  test.each([
    ["webroot", { type: "http-01", via: "webroot", path: "/var/www/html" }, { cli: { hooks: { post: "systemctl reload nginx" } } }],
    ["dnsHook", { type: "dns-01", via: "hook", command: "/usr/local/bin/dns-hook" }, {}],
    ["rfc2136", {
      type: "dns-01", via: "rfc2136", server: "192.0.2.53", port: 5353, tsig: "hmac-sha256:key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0", propagationTimeoutSeconds: 90,
    }, { profile: "shortlived", preferredChain: "ISRG Root X2" }],
    ["tlsAlpn", { type: "tls-alpn-01", via: "responder", bind: "127.0.0.1", port: 8443 }, {}],
  ] as const)("certonly's version 1 %s configuration becomes its solver spec", (kind, solver, extra) => {
    const v1 = CLI_CONFIGS[kind]!;
    const config = parseLineageConfig(v1, "lineage.json");
    expect(config).toEqual({
      version: 2, name: v1.name as string, identifiers: v1.identifiers as LineageConfig["identifiers"], directoryUrl: "https://acme.example/dir",
      allowInsecureHttp: false, keyType: "ec256", solver, ...extra,
    } as LineageConfig);
    expect(readLineageConfig(JSON.stringify(config), "lineage.json")).toEqual(config);
  });
});

describe("a lineage that is not what bun-acme writes is refused when read, naming the file and the field (ERR_STORE_CORRUPT)", () => {
  const v2 = EXPECTED["v1.test"]!;
  test.each([
    ["a key type no version knows, in version 1", { ...JSON.parse(v1Text("v1.test")), keyType: "ec999" }, "keyType", "one of "],
    ["a key type no version knows, in version 2", { ...v2, keyType: "rsa1024" }, "keyType", "one of "],
    ["a solver that cannot answer its challenge", { ...v2, solver: { type: "dns-01", via: "webroot", path: "/var/www" } }, "solver.via", "one of responder, rfc2136, hook, external"],
    ["a responder port out of range", { ...v2, solver: { ...v2.solver, port: 70000 } }, "solver.port", "a port number (1-65535)"],
    ["no solver", { ...v2, solver: undefined }, "solver", "an object"],
    ["a member of another solver", { ...v2, solver: { ...v2.solver, command: "id" } }, "solver.command", "absent"],
    ["a version 1 member in version 2", { ...v2, hooks: { pre: "id" } }, "hooks", "absent"],
    ["a hook that is not a command", { ...v2, cli: { hooks: { pre: 5 } } }, "cli.hooks.pre", "a string"],
    ["a version 1 port that is text", { ...JSON.parse(v1Text("v1.test")), ports: { http: "80", tls: 443, dns: 53 } }, "ports.http", "a port number (1-65535)"],
    ["a version 1 challenge nobody answers", { ...JSON.parse(v1Text("v1.test")), challenge: "smoke-signals" }, "challenge", "one of http-01, dns-01, tls-alpn-01"],
    // An http-01 or tls-alpn-01 responder runs no DNS server: dns-01's A record there was accepted and dropped.
    ["dns-01's record on an http-01 responder", { ...v2, solver: { ...v2.solver, record: "127.0.0.1" } }, "solver.record", "absent: only dns-01's built-in DNS server answers A queries with it (drop it, or use dns-01)"],
    ["dns-01's record on a tls-alpn-01 responder", { ...v2, solver: { type: "tls-alpn-01", via: "responder", bind: "127.0.0.1", port: 5001, record: "127.0.0.1" } }, "solver.record", "absent: only dns-01's"],
    ["a version 1 record on an http-01 lineage", { ...JSON.parse(v1Text("v1.test")), record: "127.0.0.1" }, "record", "absent: only dns-01's"],
    ["a version 1 member misspelt", { ...JSON.parse(v1Text("v1.test")), webrot: "/var/www" }, "webrot", "absent: it is not a member here (the members are version, name, identifiers,"],
    // Version 1's nested objects: a misspelt member is named as version 2 names one in cli.hooks, never dropped.
    ["a version 1 hook misspelt", { ...JSON.parse(v1Text("v1.test")), hooks: { pre: "echo pre", deploi: "systemctl reload nginx" } }, "hooks.deploi", "absent: it is not a member here (the members are pre, post, deploy)"],
    ["a version 1 port misspelt", { ...JSON.parse(v1Text("v1.test")), ports: { http: 5002, tls: 443, dsn: 53 } }, "ports.dsn", "absent: it is not a member here (the members are http, tls, dns)"],
    ["a version 1 port misspelt beside a webroot (which reads no port)", { ...JSON.parse(v1Text("v1.test")), webroot: "/var/www", ports: { http: 80, tls: 443, dns: 53, https: 8443 } }, "ports.https", "absent: it is not a member here (the members are http, tls, dns)"],
    ["a version 1 dnsUpdate member misspelt", {
      ...JSON.parse(v1Text("v1.test")), challenge: "dns-01", dnsUpdate: { server: "127.0.0.1", port: 10053, tsigKeyfile: "/etc/bind/key", propagationTimeoutSeconds: 60 },
    }, "dnsUpdate.tsigKeyfile", "absent: it is not a member here (the members are server, port, tsigKeyFile, tsig, propagationTimeoutSeconds)"],
    ["a version 2 hook misspelt", { ...v2, cli: { hooks: { deploi: "true" } } }, "cli.hooks.deploi", "absent: it is not a member here (the members are pre, post, deploy)"],
    // dns-01's record is the A answer of the built-in DNS server: an IPv4 address, as --record takes it.
    ["a version 1 record that is a name", { ...JSON.parse(v1Text("v1.test")), challenge: "dns-01", record: "localhost" }, "record", "an IPv4 address like 127.0.0.1 (dns-01's DNS server answers every A query with it)"],
    ["a version 1 record beside a DNS hook", { ...JSON.parse(v1Text("v1.test")), challenge: "dns-01", dnsHook: "/usr/local/bin/dns-hook", record: "127.0.0.256" }, "record", "an IPv4 address like 127.0.0.1"],
    ["a version 2 record that is an IPv6 address", { ...v2, solver: { type: "dns-01", via: "responder", bind: "0.0.0.0", port: 10053, record: "::1" } }, "solver.record", "an IPv4 address like 127.0.0.1 (dns-01's DNS server answers every A query with it)"],
    ["a version 2 record that is a number", { ...v2, solver: { type: "dns-01", via: "responder", bind: "0.0.0.0", port: 10053, record: 2130706433 } }, "solver.record", "an IPv4 address like 127.0.0.1"],
    ["a version 2 record with a fifth octet", { ...v2, solver: { type: "dns-01", via: "responder", bind: "0.0.0.0", port: 10053, record: "127.0.0.1.1" } }, "solver.record", "an IPv4 address like 127.0.0.1"],
    ["an identifier without a value", { ...v2, identifiers: [{ type: "dns" }] }, "identifiers.0.value", "a non-empty string"],
    ["a name that climbs out of the store", { ...v2, name: "../../x" }, "name", "a lineage name"],
  ])("%s", async (_, content, member, expected) => {
    const { store, dir } = fixtureStore();
    const file = join(dir, "certificates", "v1.test", "lineage.json");
    writeFileSync(file, JSON.stringify(content));
    const error = await refusal(store.summary("v1.test"));
    expect(error.code).toBe("ERR_STORE_CORRUPT");
    expect(error.message).toStartWith(`${file}: "${member}" should be ${expected}`);
    expect(error.message).toEndWith("; the file was not overwritten: restore or remove it");
    expect(error.cause).toBeInstanceOf(FieldError);
    expect((error.cause as FieldError).field).toBe(member);
    expect(readFileSync(file, "utf8")).toBe(JSON.stringify(content));
  });

  test("a lineage.json whose name is another lineage's is refused: renewing it would order into that other lineage", async () => {
    const { store, dir } = fixtureStore();
    const file = join(dir, "certificates", "v1.test", "lineage.json");
    const content = JSON.stringify({ ...v2, name: "other.test" });
    writeFileSync(file, content);
    const error = await refusal(store.load("v1.test"));
    expect(error.code).toBe("ERR_STORE_CORRUPT");
    expect(error.message).toBe(`${file}: "name" is "other.test", but the lineage is stored as "v1.test": restore its name (or the file)`);
    expect(await store.list()).toEqual(NAMES.toSorted());
    expect(readFileSync(file, "utf8")).toBe(content);
  });

  test("a version this bun-acme does not know is refused, not misread", async () => {
    const error = await refusal(() => parseLineageConfig({ ...EXPECTED["v1.test"]!, version: 3 }, "lineage.json"));
    expect(error.message).toBe('lineage.json: "version" should be 1 or 2 (this bun-acme reads versions 1 and 2); the file was not overwritten: restore or remove it');
  });

  test.each([
    ["a misspelt member", { dnsHooks: "/usr/local/bin/dns-hook" }, "dnsHooks"],
    ["a member only version 2 has", { cli: { out: "/tmp/copies" } }, "cli"],
  ])("a version 1 lineage.json with %s is named against version 1's members, not version 2's", (_, extra, member) => {
    const v1 = { ...JSON.parse(v1Text("v1.test")), ...extra };
    const error = (() => { try { parseLineageConfig(v1, "lineage.json"); } catch (caught) { return caught; } })() as StoreError;
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe("ERR_STORE_CORRUPT");
    expect(error.message).toStartWith(`lineage.json: "${member}" should be absent: it is not a member here (the members are version, name, identifiers, directoryUrl, allowInsecureHttp, caFile, challenge, keyType, bind, ports, webroot, record, dnsUpdate, dnsHook, hooks, profile, preferredChain, out)`);
    expect(error.message).not.toContain("solver");
  });
});

describe("the memory store reads its lineages through the same parser", () => {
  test("a version 1 record opens as version 2; the next save keeps version 2", async () => {
    const { store: files } = fixtureStore();
    const memory = new MemoryCertificateStore();
    await memory.save((await files.load("v1.test"))!);
    memory.putConfigText("v1.test", v1Text("v1.test"));
    const loaded = (await memory.load("v1.test"))!;
    expect(loaded.config).toEqual(EXPECTED["v1.test"]!);
    await memory.save(loaded);
    expect((await memory.summary("v1.test"))?.config).toEqual(EXPECTED["v1.test"]!);
  });

  test("a bad key type is a StoreError naming the record and the field", async () => {
    const { store: files } = fixtureStore();
    const memory = new MemoryCertificateStore();
    await memory.save((await files.load("v1.test"))!);
    memory.putConfigText("v1.test", JSON.stringify({ ...EXPECTED["v1.test"]!, keyType: "ec999" }));
    const error = await refusal(memory.load("v1.test"));
    expect(error.message).toStartWith('the memory store lineage v1.test (config): "keyType" should be one of ec256');
  });
});

let redis: Redis;
let postgres: Postgres;
let redisClient: RedisClient;
const pools: SQL[] = [];
beforeAll(async () => {
  [redis, postgres] = await Promise.all([startRedis(16393), startPostgres(16446)]);
  redisClient = new RedisClient(redis.url);
}, 60_000);
afterAll(async () => {
  redisClient?.close();
  await Promise.all(pools.map((pool) => pool.close()));
  await Promise.all([redis?.stop(), postgres?.stop()]);
}, 30_000);

/** A shared store, and its configuration records read and written behind its back. */
interface Shared {
  readonly store: CertificateStore & { close(): unknown };
  getConfig(name: string): Promise<string>;
  setConfig(name: string, text: string): Promise<void>;
}

const SHARED: readonly [string, () => Promise<Shared>][] = [
  ["redis", async () => ({
    store: new RedisCertificateStore(redis.url, { prefix: "versions:" }),
    getConfig: async (name) => (await redisClient.send("HGET", [`versions:lineage:${name}`, "config"])) as string,
    setConfig: async (name, text) => void (await redisClient.send("HSET", [`versions:lineage:${name}`, "config", text])),
  })],
  ["postgres", async () => {
    const url = await postgres.database("versions");
    const sql = new SQL(url);
    pools.push(sql);
    return {
      store: new PostgresCertificateStore(url),
      getConfig: async (name) => (await sql`select config from bun_acme_lineages where name = ${name}`)[0].config,
      setConfig: async (name, text) => void (await sql`update bun_acme_lineages set config = ${text} where name = ${name}`),
    };
  }],
];

describe.each(SHARED)("a version 1 configuration record in the %s store", (_, open) => {
  test("opens as version 2, is written back as version 2 on the next save; a bad key type is named at load", async () => {
    const shared = await open();
    const { store: files } = fixtureStore();
    try {
      for (const name of NAMES) {
        await shared.store.save((await files.load(name))!);
        await shared.setConfig(name, v1Text(name));
        expect(JSON.parse(await shared.getConfig(name)).version).toBe(1);
        const loaded = (await shared.store.load(name))!;
        expect(loaded.config).toEqual(EXPECTED[name]!);
        await shared.store.save(loaded);
        expect(JSON.parse(await shared.getConfig(name))).toEqual(EXPECTED[name]!);
      }
      await shared.setConfig("v1.test", JSON.stringify({ ...JSON.parse(v1Text("v1.test")), keyType: "ec999" }));
      const error = await refusal(shared.store.summary("v1.test"));
      expect(error.code).toBe("ERR_STORE_CORRUPT");
      expect(error.message).toContain('lineage v1.test (config): "keyType" should be one of ec256');
    } finally {
      await shared.store.close();
    }
  });
});
