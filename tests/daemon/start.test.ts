/**
 * startDaemon() from code, as a library user runs the daemon, against a real Pebble: every event
 * it reports (manage()'s, its own, and the access log's `request` lines) is stamped with the
 * injected clock; reload() switches to a grown configuration; stop() drains and says so.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { connect, type PeerCertificate } from "node:tls";
import { systemClock, type TimerClock } from "../../src/acme/index.ts";
import { parseServeConfig, startDaemon } from "../../src/daemon/index.ts";
import type { LifecycleEvent } from "../../src/lifecycle/index.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

/** The injected clock runs a day ahead of the system's: a time stamped by `Date.now()` shows. */
const AHEAD_MS = 86_400_000;
const clock: TimerClock = { ...systemClock, now: () => Date.now() + AHEAD_MS };

let pebble: Pebble;
let issuingRoot: string;
let upstream: ReturnType<typeof Bun.serve>;
useLoopbackResolver();
beforeAll(async () => {
  pebble = await startPebble();
  issuingRoot = await (await pebble.management("/roots/0")).text();
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(`upstream ${new URL(request.url).pathname}\n`) });
});
afterAll(async () => {
  await pebble?.stop();
  await upstream?.stop(true);
});

function config(store: string, names: readonly string[]): string {
  return `directory = "${pebble.directoryUrl}"\nca = "${pebble.tlsRootFile}"\nstore = "${store}"\naccess_log = true\n` +
    `[listen]\nhostname = "127.0.0.1"\nhttps = 5001\nhttp = 5002\n` +
    names.map((name) => `[[site]]\nnames = ["${name}"]\nupstream = "http://127.0.0.1:${upstream.port}"\n`).join("");
}

/** Collects the events, and resolves a wait for the first one that matches. */
function recorder() {
  const events: LifecycleEvent[] = [];
  const waiters: { match: (event: LifecycleEvent) => boolean; resolve: (event: LifecycleEvent) => void }[] = [];
  return {
    events,
    onEvent(event: LifecycleEvent) {
      events.push(event);
      for (const waiter of waiters.filter((candidate) => candidate.match(event))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    },
    next(match: (event: LifecycleEvent) => boolean): Promise<LifecycleEvent> {
      const seen = events.find(match);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

describe("startDaemon()", () => {
  test("every event, the access log's request lines included, carries the injected clock's time; reload() and stop() report theirs", async () => {
    const store = join(makeTempDir("daemon-start-"), "store");
    const seen = recorder();
    const started = Date.now();
    const daemon = await startDaemon(parseServeConfig(config(store, ["clock.daemon.test"]), "clock.toml"), { clock, onEvent: seen.onEvent });
    try {
      expect(seen.events.map((event) => event.type)).toEqual(expect.arrayContaining(["obtained", "serving"]));
      const get = (name: string, path: string) => fetch(`https://127.0.0.1:${daemon.port}${path}`, { headers: { host: name }, tls: { ca: issuingRoot, serverName: name } });
      const request = seen.next((event) => event.type === "request");
      const answer = await get("clock.daemon.test", "/ticks");
      expect(await answer.text()).toBe("upstream /ticks\n");
      expect(await request).toMatchObject({ type: "request", host: "clock.daemon.test", target: "/ticks", status: 200 });

      await daemon.reload(parseServeConfig(config(store, ["clock.daemon.test", "more.daemon.test"]), "clock.toml"));
      expect(daemon.config.sites).toHaveLength(2);
      expect(await (await get("more.daemon.test", "/added")).text()).toBe("upstream /added\n");
      await seen.next((event) => event.type === "request" && event.target === "/added");
    } finally {
      await daemon.stop();
    }
    const types = seen.events.map((event) => event.type);
    const reloaded = types.indexOf("config_reloaded");
    expect(reloaded).toBeGreaterThan(0);
    expect(types[reloaded + 1]).toBe("serving");
    expect(types.filter((type) => type === "request")).toHaveLength(2);
    expect(types.at(-1)).toBe("stopped");
    for (const event of seen.events) {
      const time = Date.parse(event.time);
      expect({ type: event.type, ahead: time >= started + AHEAD_MS && time <= Date.now() + AHEAD_MS }).toEqual({ type: event.type, ahead: true });
    }
  });

  test("a warm start presents the stored certificate with its first HTTPS backend (no placeholder swapped out), and waits on no CA: one that accepts and never answers", async () => {
    const store = join(makeTempDir("daemon-warm-"), "store");
    const cold = await startDaemon(parseServeConfig(config(store, ["warm.daemon.test"]), "warm.toml"));
    const storedSerial = (await presented(cold.port!, "warm.daemon.test")).serialNumber;
    await cold.stop();
    // A CA that takes the connection and never says a word: anything the start waited on it for would hang the start.
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const offline = config(store, ["warm.daemon.test"]).replace(pebble.directoryUrl, `https://127.0.0.1:${silent.port}/dir`);
    const seen = recorder();
    const warm = await startDaemon(parseServeConfig(offline, "warm.toml"), { onEvent: seen.onEvent });
    try {
      expect((await presented(warm.port!, "warm.daemon.test")).serialNumber).toBe(storedSerial);
      expect(warm.swaps).toBe(0); // the relay's first backend had the stored certificate: no placeholder made and replaced
      expect(seen.events.map((event) => event.type)).not.toContain("obtained");
    } finally {
      await warm.stop();
      silent.stop(true);
    }
  });

  test("with no site served over HTTPS (all kept in the store only), the HTTPS port presents the placeholder, as before the first certificate", async () => {
    const store = join(makeTempDir("daemon-unserved-"), "store");
    const storeOnly = config(store, ["kept.daemon.test"]).replace(/upstream = .*\n/, "");
    const daemon = await startDaemon(parseServeConfig(storeOnly, "kept.toml"));
    try {
      const subject = await new Promise<string>((resolve, reject) => {
        const socket = connect({ host: "127.0.0.1", port: daemon.port!, servername: "kept.daemon.test", rejectUnauthorized: false }, () => {
          resolve(String(socket.getPeerCertificate().subject?.CN));
          socket.destroy();
        });
        socket.once("error", reject);
      });
      expect(subject).toBe("bun-acme: no certificate for this name");
    } finally {
      await daemon.stop();
    }
  });
});

/** The certificate the daemon presents for `name`, verified against Pebble's issuing root. */
function presented(port: number, name: string): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, ca: issuingRoot }, () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once("error", reject);
  });
}
