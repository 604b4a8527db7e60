/**
 * manage()'s one limiter with real components: twelve certificates on a real redis-server store,
 * the CA's directory a loopback port nothing listens on (a CA that is down). Every certificate
 * fails at start and is retried with backoff, each on its own timer; Redis' own `KEYS` shows how
 * many lineage locks the instance holds at any moment: never more than `concurrency` (default 4),
 * though twelve certificates want one.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RedisClient } from "bun";
import { manage, type Managed, type ManageEvent } from "../../src/manage/index.ts";
import { RedisCertificateStore } from "../../src/store/index.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(90_000);

/** Nothing listens here: connections are refused, as by a CA that is down. */
const CLOSED_PORT = 14999;
const LIMIT = 4;

let redis: Redis;
beforeAll(async () => {
  redis = await startRedis(16391);
});
afterAll(async () => {
  await redis?.stop();
});

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
