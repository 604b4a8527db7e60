/**
 * IdleCollector with a fake clock (tests/support/fake-timers.ts): when it collects, and that it
 * never wakes a server nobody uses. What a collection frees is a benchmark's business
 * (bench/rss.ts), not a test's. HotTlsServer's part (every request counts) is checked with a real
 * server and a raw TLS client.
 */
import { describe, expect, test } from "bun:test";
import { connect } from "node:tls";
import { HotTlsServer, IdleCollector } from "../../src/servers/index.ts";
import { chainPem, createTestRoot } from "../support/certificates.ts";
import { FakeTimerClock } from "../support/fake-timers.ts";
import { servedLeaf } from "../support/served-leaf.ts";

function collectorWithFakeClock(idleMs = 5_000, minIntervalMs = 0) {
  const clock = new FakeTimerClock();
  let collected = 0;
  const collector = new IdleCollector({ idleMs, minIntervalMs, clock, collect: () => collected++ });
  return { clock, collector, collected: () => collected };
}

describe("IdleCollector", () => {
  test("collects once, idleMs after the last request, not before", () => {
    const { clock, collector, collected } = collectorWithFakeClock();
    collector.busy();
    clock.advance(4_999);
    expect(collected()).toBe(0);
    clock.advance(1);
    expect(collected()).toBe(1);
    clock.advance(60_000);
    expect(collected()).toBe(1); // once per quiet spell, not on a schedule
    expect(clock.pending()).toBe(0);
  });

  test("requests during the wait push the collection back to idleMs after the last of them", () => {
    const { clock, collector, collected } = collectorWithFakeClock();
    collector.busy();
    for (let step = 0; step < 5; step++) {
      clock.advance(3_000);
      collector.busy();
    }
    clock.advance(4_000); // 19 s in, 4 s after the last request
    expect(collected()).toBe(0);
    clock.advance(1_000);
    expect(collected()).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  test("arms no timer before the first request, and one timer however many requests come", () => {
    const { clock, collector } = collectorWithFakeClock();
    expect(clock.pending()).toBe(0);
    for (let request = 0; request < 1_000; request++) collector.busy();
    expect(clock.pending()).toBe(1);
  });

  test("a new quiet spell after more requests collects again", () => {
    const { clock, collector, collected } = collectorWithFakeClock(1_000);
    collector.busy();
    clock.advance(1_000);
    collector.busy();
    clock.advance(1_000);
    expect(collected()).toBe(2);
    expect(collector.collections).toBe(2);
  });

  test("a quiet spell soon after a collection waits until minIntervalMs has passed since it", () => {
    const { clock, collector, collected } = collectorWithFakeClock(5_000, 30_000);
    collector.busy();
    clock.advance(5_000);
    expect(collected()).toBe(1); // at 5 s
    clock.advance(1_000);
    collector.busy(); // at 6 s: quiet from 11 s on, but the last collection was at 5 s
    clock.advance(28_999);
    expect(collected()).toBe(1);
    clock.advance(1);
    expect(collected()).toBe(2); // at 35 s
    collector.changed(); // a swap right after: also waits for the interval
    clock.advance(29_999);
    expect(collected()).toBe(2);
    clock.advance(1);
    expect(collected()).toBe(3);
    expect(clock.pending()).toBe(0);
  });

  test("a swap is collected afterChangeMs later even while requests keep coming", () => {
    const { clock, collector, collected } = collectorWithFakeClock(5_000);
    collector.changed();
    for (let at = 0; at < 900; at += 100) {
      collector.busy();
      clock.advance(100);
    }
    expect(collected()).toBe(0); // 900 ms after the swap
    collector.busy();
    clock.advance(100);
    expect(collected()).toBe(1); // 1 s after it, requests still coming
    collector.busy();
    clock.advance(4_999);
    expect(collected()).toBe(1);
    clock.advance(1);
    expect(collected()).toBe(2); // then the quiet spell after the requests, as always
  });

  test("swaps in quick succession are collected once, afterChangeMs after the latest, and a timer set for a quiet spell is brought forward", () => {
    const { clock, collector, collected } = collectorWithFakeClock(5_000);
    collector.busy(); // a timer for 5 s
    clock.advance(500);
    collector.changed();
    clock.advance(500);
    collector.changed();
    clock.advance(999);
    expect(collected()).toBe(0);
    clock.advance(1);
    expect(collected()).toBe(1); // at 2 s, not 5 s or 6 s
    clock.advance(60_000);
    expect(collected()).toBe(1);
    expect(clock.pending()).toBe(0);
  });

  test("stop() cancels a pending collection", () => {
    const { clock, collector, collected } = collectorWithFakeClock();
    collector.busy();
    collector.stop();
    clock.advance(10_000);
    expect(collected()).toBe(0);
  });

  test("a wait that is not a positive number, or a negative interval, is a RangeError", () => {
    for (const idleMs of [0, -1, Number.NaN]) expect(() => new IdleCollector({ idleMs })).toThrow(RangeError);
    expect(() => new IdleCollector({ minIntervalMs: -1 })).toThrow(RangeError);
    expect(() => new IdleCollector({ afterChangeMs: Number.NaN })).toThrow(RangeError);
  });
});

test("HotTlsServer tells its idle collector of its start, every swap and every request, and stop() cancels its wait", async () => {
  const root = await createTestRoot("idle test root");
  const clock = new FakeTimerClock();
  let collected = 0;
  const idleCollector = new IdleCollector({ idleMs: 1_000, afterChangeMs: 200, minIntervalMs: 0, clock, collect: () => collected++ });
  const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "relay", idleCollector, fetch: () => new Response("hello\n") });
  try {
    await server.serve([await servedLeaf(root, ["idle.test"])]);
    expect(clock.pending()).toBe(1); // the start is a swap: collected 200 ms later
    clock.advance(200);
    expect(collected).toBe(1);
    expect(await getStatus(server.port, chainPem([root.der]), "idle.test")).toBe(200);
    expect(clock.pending()).toBe(1);
    clock.advance(1_000);
    expect(collected).toBe(2);
    expect(clock.pending()).toBe(0);
    await server.serve([await servedLeaf(root, ["idle.test"])]); // a swap
    expect(clock.pending()).toBe(1);
    clock.advance(200);
    expect(collected).toBe(3);
    expect(await getStatus(server.port, chainPem([root.der]), "idle.test")).toBe(200);
    expect(clock.pending()).toBe(1);
  } finally {
    await server.stop();
  }
  expect(clock.pending()).toBe(0);
});

/** One GET over a new, verified TLS connection (a client that never retries); the status code. */
function getStatus(port: number, ca: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, ca }, () => {
      socket.write(`GET / HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`);
    });
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", reject);
    socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
  });
}
