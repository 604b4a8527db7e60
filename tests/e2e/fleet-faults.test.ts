/**
 * A fleet's faults, with real components: Pebble, redis-server and PostgreSQL 15, HAProxy, and
 * instances of a manage() program as separate processes.
 *
 * - The lock holder is killed with SIGKILL in the middle of an issuance (its challenge presented,
 *   its order pending): another instance takes the lineage over once the lease ends, obtains it
 *   and serves it; the CA sees the two orders and no more; the store holds one whole lineage.
 * - The store is restarted while two instances serve: both keep serving, and the next renewal
 *   (30 s certificates) works and reaches both.
 * - The store cannot be reached at start: an instance with a local cache serves the cached
 *   certificate and meets the store again once it is back; one without a cache says so in one line.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { openStore } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";
import { ordersAtPebble, servedSerial, startInstance, stopInstances, type FleetInstance } from "../support/fleet.ts";
import { startHaproxy } from "../support/haproxy.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(120_000);

let pebble: Pebble;
let redis: Redis;
let postgres: Postgres;
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: 30 } });
  redis = await startRedis(16381, { aof: true });
  postgres = await startPostgres(16435);
});
afterAll(async () => {
  await redis?.stop();
  await postgres?.stop();
  await pebble?.stop();
});
useLoopbackResolver();

const BACKENDS = [
  { kind: "redis", url: () => redis.url, down: () => redis.stop(), up: () => redis.restart(), restart: () => redis.restart() },
  { kind: "postgres", url: () => postgres.url, down: () => postgres.stop(), up: () => postgres.start(), restart: () => postgres.restart() },
] as const;

/** What an instance printed on stderr, apart from Bun's own notices while PostgreSQL was away. */
const complaints = (instance: FleetInstance) => instance.stderr.text().split("\n").filter((line) => line !== "" && !line.startsWith("bun:sql LISTEN"));

for (const backend of BACKENDS) describe(`a fleet on ${backend.kind}`, () => {
  test("the lock holder killed (SIGKILL) mid-issuance: another instance takes over after the lease, obtains and serves; two orders at the CA; one whole lineage stored", async () => {
    const name = `kill.${backend.kind}.fleet.test`;
    const ordersBefore = ordersAtPebble(pebble);
    const lease = { FLEET_LEASE_MS: "2000" };
    const holder = startInstance(pebble, backend.url(), { http: 6002, https: 7001 }, [name], { ...lease, FLEET_STALL: "1" });
    const successor = { instance: undefined as FleetInstance | undefined };
    try {
      await holder.stdout.waitFor((line) => line === "presented", 30_000);
      expect(ordersAtPebble(pebble) - ordersBefore).toBe(1);
      successor.instance = startInstance(pebble, backend.url(), { http: 5002, https: 7002 }, [name], lease);
      holder.child.kill("SIGKILL");
      const killedAt = Date.now();
      await successor.instance.serving(30_000);
      console.log(`[fleet-faults] ${backend.kind}: the successor served ${Date.now() - killedAt} ms after the holder was killed (lease 2 s)`);
      expect(await holder.child.exited).not.toBe(0);
      expect(holder.child.signalCode).toBe("SIGKILL");
      expect(ordersAtPebble(pebble) - ordersBefore).toBe(2);
      expect(successor.instance.events("obtained")).toHaveLength(1);

      const store = openStore(backend.url());
      try {
        const stored = (await store.load(name))!;
        const leaf = new X509Certificate(stored.chainPem);
        expect(leaf.checkPrivateKey(createPrivateKey(stored.keyPem))).toBe(true);
        expect(leaf.subjectAltName).toBe(`DNS:${name}`);
        expect(await servedSerial(7002, name)).toBe(stored.meta.serial.replace(/^0+/, ""));
      } finally {
        await store.close?.();
      }
      expect(complaints(successor.instance)).toEqual([]);
    } finally {
      await stopInstances(successor.instance ? [successor.instance] : []);
    }
  });

  test("the store restarted while two instances serve behind HAProxy: both keep serving; the next renewal works and both serve it", async () => {
    const name = `restart.${backend.kind}.fleet.test`;
    const haproxy = await startHaproxy({ http: { port: 5002, backends: [6002, 6003] } });
    const instances = [startInstance(pebble, backend.url(), { http: 6002, https: 7001 }, [name]), startInstance(pebble, backend.url(), { http: 6003, https: 7002 }, [name])];
    try {
      for (const instance of instances) await instance.serving();
      const first = await servedSerial(7001, name);
      expect(await servedSerial(7002, name)).toBe(first);

      await backend.down();
      for (const instance of instances) expect(await servedSerial(instance.https, name)).toBe(first); // served while the store is away
      await backend.up();

      // 30 s certificates are renewed 20 s after they start: whichever instance wakes first renews, the other takes it up.
      const renewedAt = Date.now();
      for (const instance of instances) {
        while ((await servedSerial(instance.https, name).catch(() => first)) === first) {
          if (Date.now() - renewedAt > 40_000) throw new Error(`instance ${instance.https} was not renewed:\n${instance.stdout.text()}\n${instance.stderr.text()}`);
          await Bun.sleep(100);
        }
      }
      const serials = await Promise.all(instances.map((instance) => servedSerial(instance.https, name)));
      expect(new Set(serials).size).toBe(1);
      expect(instances.flatMap((instance) => instance.events("renewed"))).toHaveLength(1);
      for (const instance of instances) expect(complaints(instance)).toEqual([]);
    } finally {
      await stopInstances(instances);
      await haproxy.stop();
    }
  });

  test("the store unreachable at start: with a local cache the cached certificate is served and the store met again once back; without one, one line and exit 1", async () => {
    const name = `cache.${backend.kind}.fleet.test`;
    const cache = { FLEET_CACHE: makeTempDir("bun-acme-fleet-cache-"), FLEET_RETRY_MS: "300" };
    const before = startInstance(pebble, backend.url(), { http: 5002, https: 7001 }, [name], cache);
    await before.serving().finally(() => stopInstances([before]));
    const serial = before.events("obtained")[0]!.serial!.replace(/^0+/, "");

    await backend.down();
    const cached = startInstance(pebble, backend.url(), { http: 5002, https: 7001 }, [name], cache);
    try {
      await cached.serving(30_000);
      expect(await servedSerial(7001, name)).toBe(serial);
      expect(cached.events("warning").some((event) => event.message!.startsWith("Cannot reach ") && event.message!.includes("serving the certificate cached in"))).toBe(true);

      const uncached = startInstance(pebble, backend.url(), { http: 5003, https: 7002 }, [name]);
      expect(await uncached.child.exited).toBe(1);
      const lines = complaints(uncached);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^Cannot reach the (Redis|PostgreSQL) store .*; no local cache is configured, so there is nothing to serve: start the store or correct its address$/);

      await backend.up();
      await cached.stdout.waitFor((line) => line.includes("is reachable again"), 15_000);
      expect(await servedSerial(7001, name)).toBe(serial);
      expect(complaints(cached)).toEqual([]);
    } finally {
      await stopInstances([cached]);
    }
  });
});

describe("the command line on a shared store (--store)", () => {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
  // A store of its own (Redis database 1, a PostgreSQL database "cli"): the other tests' account there is not encrypted.
  const ownStore = async (kind: "redis" | "postgres") => (kind === "redis" ? `${redis.url}/1` : postgres.database("cli"));
  for (const backend of BACKENDS) {
    test(`${backend.kind}: certonly obtains into it (keys encrypted with BUN_ACME_STORE_KEY), certificates lists it, renew --force renews it there; without the key, nothing`, async () => {
      const name = `cli.${backend.kind}.fleet.test`;
      const url = await ownStore(backend.kind);
      const env = { BUN_ACME_STORE_KEY: key };
      const common = ["--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--store", url];
      const obtained = await runClient(["certonly", ...common, "--domain", name, "--bind", "127.0.0.1", "--http-port", "5002"], { env });
      expect(obtained.stderr).toBe("");
      expect(obtained.code).toBe(0);
      const store = openStore(url, { encryptionKey: new Uint8Array(Buffer.from(key, "base64")) });
      try {
        const first = (await store.load(name))!.meta.serial;
        const listed = await runClient(["certificates", "--store", url, "--json"], { env });
        expect(listed.code).toBe(0);
        expect(listed.stdout).toContain(`"${name}"`);
        const renewed = await runClient(["renew", "--ca", pebble.tlsRootFile, "--store", url, "--cert-name", name, "--force"], { env });
        expect(renewed.stderr).toBe("");
        expect(renewed.code).toBe(0);
        expect((await store.load(name))!.meta.serial).not.toBe(first);
      } finally {
        await store.close?.();
      }
      // Without the key, the stored private key cannot be read: renew says so and changes nothing.
      const keyless = await runClient(["renew", "--ca", pebble.tlsRootFile, "--store", url, "--cert-name", name, "--force"]);
      expect(keyless.code).toBe(1);
      expect(keyless.stderr).toContain("is encrypted; give the store's encryption key (the command line and the daemon read it from BUN_ACME_STORE_KEY)");
    });
  }

  test("mistakes are one line and exit 2: a URL given to --state, both --state and --store, a BUN_ACME_STORE_KEY that is not 32 bytes", async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [["certificates", "--state", "redis://127.0.0.1:16381"], {}, "--state takes a folder; a shared store's URL goes to --store"],
      [["certificates", "--state", "/tmp", "--store", "redis://127.0.0.1:16381"], {}, "choose one of --state and --store"],
      [["certificates", "--store", "redis://127.0.0.1:16381"], { BUN_ACME_STORE_KEY: "c2hvcnQ=" }, "BUN_ACME_STORE_KEY must be base64 of 32 bytes"],
    ];
    for (const [args, env, message] of cases) {
      const result = await runClient(args, { env });
      expect(result.code).toBe(2);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(message);
    }
  });
});
