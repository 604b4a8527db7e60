/**
 * What the fast lifecycle and manage() tests share: the FAKE CA (tests/support/fake-ca.ts) reached
 * in-process, a fake clock with timers, an in-memory store, and lineage configurations for names.
 */
import type { ChallengeSolver } from "../../src/acme/index.ts";
import { Issuer } from "../../src/lifecycle/index.ts";
import { MemoryCertificateStore, type LineageConfig } from "../../src/store/index.ts";
import { FakeCa, type FakeCaScript } from "./fake-ca.ts";
import { FakeTimerClock } from "./fake-timers.ts";

export const FAKE_DIRECTORY = "https://fake-ca.test/dir";

/** The fake CA validates nothing: a solver with nothing to do. */
export const nothingToPresent: ChallengeSolver = { type: "http-01", present: () => {}, cleanup: () => {} };

/** A lineage configuration for `names` at the fake CA. */
export function configFor(...names: string[]): LineageConfig {
  return {
    version: 2,
    name: names[0]!,
    identifiers: names.map((value) => ({ type: "dns", value })),
    directoryUrl: FAKE_DIRECTORY,
    allowInsecureHttp: false,
    keyType: "ec256",
    solver: { type: "http-01", via: "external" },
  };
}

/** One fake CA, clock and memory store; `issuer()` is one more "instance" using them. */
export function engineWorld(script: FakeCaScript = {}) {
  const clock = new FakeTimerClock();
  const ca = new FakeCa({ now: () => clock.now(), ...script });
  const store = new MemoryCertificateStore(clock);
  let down = false;
  // While "down", every request fails as a refused connection does.
  const fetch = (url: string, init: RequestInit) => (down ? Promise.reject(Object.assign(new TypeError("Unable to connect"), { code: "ConnectionRefused" })) : ca.fetch(url, init));
  const issuer = (solver: ChallengeSolver = nothingToPresent) => new Issuer({ directoryUrl: FAKE_DIRECTORY, fetch, clock, solver, accountStorage: store.accountStorage() });
  return { clock, ca, store, issuer, orders: () => ca.orderPayloads.length, setDown: (value: boolean) => void (down = value) };
}
