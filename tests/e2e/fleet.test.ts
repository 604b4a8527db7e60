/**
 * A fleet: three instances of a program using manage() on one shared store (Redis, then
 * PostgreSQL), behind a real HAProxy
 * round-robining the CA's http-01 validation requests over them, started at the same moment for
 * the same three names. Pebble sees exactly one order per certificate (the others wait for the
 * lineage's lock and load the result), every instance serves the same serial, and validation
 * requests that land on an instance without the challenge are answered from the store.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { connect } from "node:tls";
import { AcmeTransport, type ChallengeSolver } from "../../src/acme/index.ts";
import { obtainLineage } from "../../src/lifecycle/index.ts";
import { openAccount, PostgresCertificateStore, RedisCertificateStore } from "../../src/store/index.ts";
import { startHaproxy, type Haproxy } from "../support/haproxy.ts";
import { LineReader } from "../support/lines.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let redis: Redis;
let postgres: Postgres;
let haproxy: Haproxy;
/** How long every instance took to serve a certificate another process saved (reported, not a target). */
const propagationMs: Record<string, number> = {};
const INSTANCES = [{ http: 6002, https: 7001 }, { http: 6003, https: 7002 }, { http: 6004, https: 7003 }];
beforeAll(async () => {
  pebble = await startPebble();
  redis = await startRedis(16380);
  postgres = await startPostgres(16433);
  haproxy = await startHaproxy(5002, INSTANCES.map((instance) => instance.http));
});
afterAll(async () => {
  for (const [backend, ms] of Object.entries(propagationMs)) console.log(`[fleet] ${backend}: a certificate saved elsewhere was served by all 3 instances after ${ms} ms`);
  await haproxy?.stop();
  await redis?.stop();
  await postgres?.stop();
  await pebble?.stop();
});
useLoopbackResolver();

function servedSerial(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on("error", reject);
  });
}

for (const backend of ["redis", "postgres"] as const) describe(`three instances on one ${backend} store behind HAProxy`, () => {
  const storeUrl = () => (backend === "redis" ? redis.url : postgres.url);
  const openStore = () => (backend === "redis" ? new RedisCertificateStore(redis.url) : new PostgresCertificateStore(postgres.url));
  test("started together for three names: one order per certificate at the CA, the same serial everywhere, validations answered by any instance; a renewal saved elsewhere is served by all", async () => {
    const names = ["f1", "f2", "f3"].map((label) => `${label}.${backend}.fleet.test`);
    const first = names[0]!;
    const ordersBefore = pebble.log().split("\n").filter((line) => line.includes("POST /order-plz -> calling handler()")).length;
    const instances = INSTANCES.map(({ http, https }) => {
      const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "support", "fleet-instance.ts"), storeUrl(), pebble.directoryUrl, pebble.tlsRootFile,
        String(http), String(https), ...names], { stdout: "pipe", stderr: "pipe" });
      return { child, stdout: new LineReader(child.stdout), stderr: new LineReader(child.stderr), https };
    });
    try {
      for (const instance of instances) {
        await instance.stdout.waitFor((line) => line === "serving", 60_000).catch((error) => {
          throw new Error(`${(error as Error).message}\n${instance.stdout.text()}\n${instance.stderr.text()}`);
        });
      }
      const orders = pebble.log().split("\n").filter((line) => line.includes("POST /order-plz -> calling handler()")).length - ordersBefore;
      expect(orders).toBe(3);
      const obtained = instances.flatMap((instance) => instance.stdout.text().split("\n").filter((line) => line.includes('"type":"obtained"')));
      expect(obtained).toHaveLength(3);
      for (const name of names) {
        const serials = await Promise.all(instances.map((instance) => servedSerial(instance.https, name)));
        expect(new Set(serials).size).toBe(1);
      }

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
          while ((await servedSerial(instance.https, first).catch(() => "")).replace(/^0+/, "") !== expected) {
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
      for (const instance of instances) instance.child.kill("SIGTERM");
      await Promise.all(instances.map((instance) => instance.child.exited));
    }
  });
});
