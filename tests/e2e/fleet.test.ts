/**
 * A fleet: five instances of a program using manage() on one shared store (Redis, then
 * PostgreSQL), behind a real HAProxy round-robining the CA's http-01 validation requests over
 * them, started at the same moment for the same twenty names. Pebble sees exactly one order per
 * certificate (the instances work on free locks first, then wait for the others' and load the
 * result), every instance serves the same serial for every name, and HAProxy's statistics show
 * validation requests answered 2xx by every instance, most of which did not hold the challenge.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AcmeTransport, type ChallengeSolver } from "../../src/acme/index.ts";
import { obtainLineage } from "../../src/lifecycle/index.ts";
import { openAccount, PostgresCertificateStore, RedisCertificateStore } from "../../src/store/index.ts";
import { startHaproxy, type Haproxy } from "../support/haproxy.ts";
import { allObtained, issuedAtPebble, servedSerial, startInstance, stopInstances } from "../support/fleet.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let redis: Redis;
let postgres: Postgres;
let haproxy: Haproxy;
/** How long every instance took to serve a certificate another process saved, and to start with all twenty (reported, not targets). */
const propagationMs: Record<string, number> = {};
const timings: Record<string, number> = {};
const distribution: Record<string, string> = {};
const INSTANCES = [0, 1, 2, 3, 4].map((index) => ({ http: 6002 + index, https: 7001 + index }));
beforeAll(async () => {
  pebble = await startPebble();
  redis = await startRedis(16380);
  postgres = await startPostgres(16433);
  haproxy = await startHaproxy({ http: { port: 5002, backends: INSTANCES.map((instance) => instance.http) } });
});
afterAll(async () => {
  for (const [backend, ms] of Object.entries(timings)) console.log(`[fleet] ${backend}: 5 instances serving all 20 certificates ${ms} ms after they were started together (obtained per instance: ${distribution[backend]})`);
  for (const [backend, ms] of Object.entries(propagationMs)) console.log(`[fleet] ${backend}: a certificate saved elsewhere was served by all 5 instances after ${ms} ms`);
  await haproxy?.stop();
  await redis?.stop();
  await postgres?.stop();
  await pebble?.stop();
});
useLoopbackResolver();

for (const backend of ["redis", "postgres"] as const) describe(`five instances on one ${backend} store behind HAProxy`, () => {
  const storeUrl = () => (backend === "redis" ? redis.url : postgres.url);
  const openStore = () => (backend === "redis" ? new RedisCertificateStore(redis.url) : new PostgresCertificateStore(postgres.url));
  test("started together for twenty names: one order per certificate at the CA, the same serial everywhere, validations answered by every instance; a renewal saved elsewhere is served by all", async () => {
    const names = Array.from({ length: 20 }, (_, index) => `f${index + 1}.${backend}.fleet.test`);
    const first = names[0]!;
    const issuedBefore = issuedAtPebble(pebble);
    const statsBefore = await haproxy.stats();
    const started = Date.now();
    const instances = INSTANCES.map((ports) => startInstance(pebble, storeUrl(), ports, names));
    try {
      for (const instance of instances) await instance.serving(90_000);
      await allObtained(instances, 20);
      timings[backend] = Date.now() - started;
      expect(issuedAtPebble(pebble) - issuedBefore).toBe(20);
      expect(instances.flatMap((instance) => instance.events("obtained"))).toHaveLength(20);
      // The instances worked on different certificates at once (free locks first), not one after another behind the same lock.
      const perInstance = instances.map((instance) => instance.events("obtained").length);
      distribution[backend] = perInstance.join("/");
      expect(perInstance.filter((count) => count > 0).length).toBeGreaterThan(1);
      for (const name of names) {
        const serials = await Promise.all(instances.map((instance) => servedSerial(instance.https, name)));
        expect(new Set(serials).size).toBe(1);
      }
      // Pebble validates each challenge several times; round robin sent those requests to every instance, and each answered
      // some with the key authorization, none with a 404 (manage() leaves a published answer to expire, so even a late
      // request is answered), although most instances did not hold the challenge and some were still starting.
      const stats = await haproxy.stats();
      for (const { http } of INSTANCES) expect(stats.get(http)!.ok - statsBefore.get(http)!.ok).toBeGreaterThan(0);
      expect(INSTANCES.map(({ http }) => stats.get(http)!.clientErrors - statsBefore.get(http)!.clientErrors)).toEqual(INSTANCES.map(() => 0));
      // And together they answered every validation: Pebble asks 3 times per name (multi-perspective).
      const answered = INSTANCES.reduce((sum, { http }) => sum + stats.get(http)!.ok - statsBefore.get(http)!.ok, 0);
      expect(answered).toBeGreaterThanOrEqual(names.length * 3);

      // Another process renews f1 through the store (answering http-01 through it too): every instance serves it within moments.
      const store = openStore();
      try {
        const transport = new AcmeTransport({ directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem });
        const { account } = await openAccount(transport, { storage: store.accountStorage() });
        const shared = store.sharedChallenges();
        const solver: ChallengeSolver = {
          type: "http-01",
          present: (_identifier, challenge, keyAuthorization) => shared.publish(challenge.token, keyAuthorization, 60_000),
          cleanup: (_identifier, challenge) => shared.withdraw(challenge.token),
        };
        const lock = await store.lock(first);
        const renewed = await obtainLineage({ config: (await store.summary(first))!.config, transport, account, solver });
        await store.save(renewed, lock);
        const savedAt = Date.now();
        await lock.release();
        const expected = renewed.meta.serial.replace(/^0+/, "");
        for (const instance of instances) {
          // A new connection that meets the swap itself may be reset (net.ipv4.tcp_migrate_req=0): that poll just tries again.
          while ((await servedSerial(instance.https, first).catch(() => "")) !== expected) {
            if (Date.now() - savedAt > 3_000) throw new Error(`instance ${instance.https} still serves the old certificate after 3 s`);
            await Bun.sleep(20);
          }
        }
        propagationMs[backend] = Date.now() - savedAt;
        for (const instance of instances) await instance.stdout.waitFor((line) => line.includes('"type":"updated"') && line.includes(first), 1_000);
      } finally {
        await store.close();
      }
      for (const instance of instances) expect(instance.stderr.text()).toBe("");
    } finally {
      await stopInstances(instances);
    }
  });
});

for (const backend of ["redis", "postgres"] as const) describe(`three instances answering tls-alpn-01 on one ${backend} store behind HAProxy routing by ALPN`, () => {
  test("the CA's acme-tls/1 handshakes go round-robin to every instance's responder and are answered from the store; one order per certificate; clients through the same port get the served certificate", async () => {
    const storeUrl = backend === "redis" ? redis.url : postgres.url;
    const names = Array.from({ length: 6 }, (_, index) => `a${index + 1}.${backend}.alpn.fleet.test`);
    const alpnPorts = [8001, 8002, 8003];
    const httpsPorts = [7001, 7002, 7003];
    // Pebble validates tls-alpn-01 on port 5001: HAProxy there sends acme-tls/1 to the responders, the rest to HTTPS.
    const balancer = await startHaproxy({ tls: { port: 5001, acme: alpnPorts, https: httpsPorts } });
    const issuedBefore = issuedAtPebble(pebble);
    const instances = alpnPorts.map((alpn, index) => startInstance(pebble, storeUrl, { http: 6002 + index, https: httpsPorts[index]! }, names, { FLEET_TLS_ALPN_PORT: String(alpn) }));
    try {
      for (const instance of instances) await instance.serving(90_000);
      await allObtained(instances, 6);
      expect(issuedAtPebble(pebble) - issuedBefore).toBe(6);
      expect(instances.flatMap((instance) => instance.events("obtained"))).toHaveLength(6);
      const stats = await balancer.stats();
      for (const port of alpnPorts) expect(stats.get(port)!.requests).toBeGreaterThan(0);
      for (const name of names) {
        const serials = await Promise.all(instances.map((instance) => servedSerial(instance.https, name)));
        expect(new Set(serials).size).toBe(1);
        expect(await servedSerial(5001, name)).toBe(serials[0]!); // a client without acme-tls/1, through the balancer
      }
      for (const instance of instances) expect(instance.stderr.text()).toBe("");
    } finally {
      await stopInstances(instances);
      await balancer.stop();
    }
  });
});
