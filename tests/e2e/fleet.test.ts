/**
 * A fleet: three instances of a program using manage() on one Redis store, behind a real HAProxy
 * round-robining the CA's http-01 validation requests over them, started at the same moment for
 * the same three names. Pebble sees exactly one order per certificate (the others wait for the
 * lineage's lock and load the result), every instance serves the same serial, and validation
 * requests that land on an instance without the challenge are answered from the store.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { connect } from "node:tls";
import { startHaproxy, type Haproxy } from "../support/haproxy.ts";
import { LineReader } from "../support/lines.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let redis: Redis;
let haproxy: Haproxy;
const INSTANCES = [{ http: 6002, https: 7001 }, { http: 6003, https: 7002 }, { http: 6004, https: 7003 }];
beforeAll(async () => {
  pebble = await startPebble();
  redis = await startRedis(16380);
  haproxy = await startHaproxy(5002, INSTANCES.map((instance) => instance.http));
});
afterAll(async () => {
  await haproxy?.stop();
  await redis?.stop();
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

describe("three instances on one Redis store behind HAProxy", () => {
  test("started together for three names: one order per certificate at the CA, the same serial everywhere, validations answered by any instance", async () => {
    const names = ["f1.fleet.test", "f2.fleet.test", "f3.fleet.test"];
    const ordersBefore = pebble.log().split("\n").filter((line) => line.includes("POST /order-plz -> calling handler()")).length;
    const instances = INSTANCES.map(({ http, https }) => {
      const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "support", "fleet-instance.ts"), redis.url, pebble.directoryUrl, pebble.tlsRootFile,
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
      for (const instance of instances) expect(instance.stderr.text()).toBe("");
    } finally {
      for (const instance of instances) instance.child.kill("SIGTERM");
      await Promise.all(instances.map((instance) => instance.child.exited));
    }
  });
});
