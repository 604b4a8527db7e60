/**
 * manage()'s one limiter with real components: twelve certificates on a real redis-server store,
 * the CA's directory a loopback port nothing listens on (a CA that is down). Every certificate
 * fails at start and is retried with backoff, each on its own timer; Redis' own `KEYS` shows how
 * many lineage locks the instance holds at any moment: never more than `concurrency` (default 4),
 * though twelve certificates want one. And on-demand names against a real Pebble: one whose lock
 * another instance holds waits for it without the instance's one turn, so that another name is
 * obtained meanwhile; it is served the other instance's certificate once that one saves it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RedisClient } from "bun";
import { Http01Solver } from "../../src/challenges/index.ts";
import { Issuer } from "../../src/lifecycle/index.ts";
import { manage, SharedHttp01Solver, type Managed, type ManageEvent } from "../../src/manage/index.ts";
import { RedisCertificateStore, type LineageConfig } from "../../src/store/index.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";

setDefaultTimeout(90_000);

/** Nothing listens here: connections are refused, as by a CA that is down. */
const CLOSED_PORT = 14999;
const LIMIT = 4;

let redis: Redis;
let pebble: Pebble;
beforeAll(async () => {
  [redis, pebble] = await Promise.all([startRedis(16391), startPebble()]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), pebble?.stop()]);
});
useLoopbackResolver();

describe("manage() with twelve certificates and the CA down, on Redis", () => {
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
  });

  test("retries of twelve failing certificates never hold more than `concurrency` locks at once (Redis' KEYS lock:*), each certificate retried with its backoff", async () => {
    const client = new RedisClient(redis.url);
    const seen: number[] = [];
    let sampling = true;
    // Redis' own view, every few milliseconds, for as long as the test runs.
    const sampler = (async () => {
      while (sampling) {
        const keys = (await client.send("KEYS", ["bun-acme:lock:*"])) as string[];
        seen.push(keys.length);
        await Bun.sleep(5);
      }
    })();
    const events: ManageEvent[] = [];
    const failures = () => events.filter((event) => event.type === "failed");
    const enough = Promise.withResolvers<void>();
    const names = Array.from({ length: 12 }, (_, index) => `l${index}.limit.test`);
    try {
      managed = await manage({
        certificates: names.map((name) => [name]),
        directoryUrl: `https://127.0.0.1:${CLOSED_PORT}/dir`,
        store: new RedisCertificateStore(redis.url),
        hostname: "127.0.0.1",
        ports: { https: 5001, http: 5002 },
        fetch: () => new Response("waiting for the CA\n"),
        retry: { baseDelayMs: 100, maxDelayMs: 400 },
        onEvent: (event) => {
          events.push(event);
          // Every certificate's second failure: a round of retries, twelve timers due within a few hundred milliseconds.
          if (names.every((name) => failures().filter((failed) => failed.lineage === name).length >= 2)) enough.resolve();
        },
      });
      // Start resolves after every certificate's first attempt (retries of the first ones may have come meanwhile).
      expect(new Set(failures().map((event) => event.lineage))).toEqual(new Set(names));
      await enough.promise;
    } finally {
      sampling = false;
      await sampler;
      client.close();
    }
    const most = Math.max(...seen);
    console.log(`locks held at once, as Redis saw them (${seen.length} samples): most ${most}; samples per count ${JSON.stringify(Object.fromEntries([...new Set(seen)].sort().map((count) => [count, seen.filter((value) => value === count).length])))}`);
    expect(most).toBeGreaterThan(0); // the sampler saw locks at all
    expect(most).toBeLessThanOrEqual(LIMIT);
    expect(failures()[0]!.error).toStartWith(`Cannot connect to https://127.0.0.1:${CLOSED_PORT}/`);
    for (const name of names) {
      // `at` is reckoned from the failure's moment, `time` stamped a millisecond or so later.
      const delays = failures().filter((event) => event.lineage === name).slice(0, 2).map((event) => Math.round((Date.parse(event.at!) - Date.parse(event.time)) / 50) * 50);
      expect(delays).toEqual([100, 200]);
    }
  });
});

describe("manage() on demand with concurrency 1, on Redis, against Pebble", () => {
  test("a name whose lock another instance holds is awaited without the one turn: another name is obtained meanwhile, and the first is served the other instance's certificate once it saves", async () => {
    const prefix = "ondemand:";
    const events: ManageEvent[] = [];
    const managed = await manage({
      certificates: [],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      store: new RedisCertificateStore(redis.url, { prefix }),
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 5002 },
      fetch: () => new Response("on demand\n"),
      concurrency: 1,
      onDemand: { allow: () => true },
      onEvent: (event) => void events.push(event),
    });
    // The other instance: its own connection to the store, answering the CA through the fleet's shared answers.
    const other = new RedisCertificateStore(redis.url, { prefix });
    try {
      const held = "held.ondemand.test";
      const lock = await other.lock(held, { waitMs: 0 });
      let heldServed = false;
      const waiting = managed.certificateOnDemand!(held).then((served) => ((heldServed = true), served));
      const free = await Promise.race([managed.certificateOnDemand!("free.ondemand.test"), Bun.sleep(20_000).then(() => "still waiting after 20 s")]);
      expect(typeof free === "object" && free?.names).toEqual(["free.ondemand.test"]);
      expect(heldServed).toBe(false);

      const config: LineageConfig = {
        version: 2, name: held, identifiers: [{ type: "dns", value: held }], directoryUrl: pebble.directoryUrl, allowInsecureHttp: false, keyType: "ec256",
        solver: { type: "http-01", via: "external" },
      };
      const solver = new SharedHttp01Solver(new Http01Solver(), other.sharedChallenges());
      const theirs = await new Issuer({ directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem, solver, accountStorage: other.accountStorage() }).obtain(config);
      await other.save(theirs, lock);
      await lock.release();
      const served = await Promise.race([waiting, Bun.sleep(20_000).then(() => undefined)]);
      expect(served?.chainPem).toBe(theirs.chainPem);
      expect(events.filter((event) => event.type === "obtained").map((event) => event.lineage)).toEqual(["free.ondemand.test"]);
      expect(events.filter((event) => event.type === "updated").map((event) => event.lineage)).toEqual([held]);
    } finally {
      other.close();
      await managed.stop();
    }
  });
});
