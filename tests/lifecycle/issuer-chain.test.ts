/**
 * Issuer fallback: ensureLineage() with an IssuerChain over two FAKE CAs (tests/support/fake-ca.ts,
 * in-process, at two origins), a fake clock and the memory store. A failure on the first CA's side
 * (unreachable, rate-limited, an internal error in validation) moves on to the second; a caller-side
 * problem does not; the certificate records the CA that issued it and the next renewal starts at
 * the first again.
 */
import { describe, expect, test } from "bun:test";
import { AcmeAuthorizationError, AcmeConnectionError, AcmeProblemError } from "../../src/acme/index.ts";
import { ensureLineage, isCaSideFailure, IssuerChain, type IssuerChainOptions } from "../../src/lifecycle/index.ts";
import { MemoryCertificateStore } from "../../src/store/index.ts";
import { configFor, nothingToPresent } from "../support/engine.ts";
import { FakeCa, type FakeCaScript } from "../support/fake-ca.ts";
import { FakeTimerClock } from "../support/fake-timers.ts";

const DAY = 86_400_000;
const FIRST = "https://first-ca.test/dir";
const SECOND = "https://second-ca.test/dir";
const config = configFor("a.fake.test");

/** Two fake CAs behind one fetch; the first can be made unreachable (a refused connection). */
function twoCaWorld(firstScript: FakeCaScript = {}, chainOptions: IssuerChainOptions = {}, secondScript: FakeCaScript = {}) {
  const clock = new FakeTimerClock();
  const first = new FakeCa({ now: () => clock.now(), ...firstScript });
  const second = new FakeCa({ now: () => clock.now(), ...secondScript });
  const store = new MemoryCertificateStore(clock);
  let firstDown = false;
  const fetch = (url: string, init: RequestInit) => {
    if (new URL(url).host === "second-ca.test") return second.fetch(url, init);
    return firstDown ? Promise.reject(Object.assign(new TypeError("Unable to connect"), { code: "ConnectionRefused" })) : first.fetch(url, init);
  };
  const fallbacks: string[] = [];
  const chain = new IssuerChain([FIRST, SECOND].map((directoryUrl) => ({ directoryUrl, fetch, clock, solver: nothingToPresent, accountStorage: store.accountStorage() })), {
    ...chainOptions,
    onFallback: (failed, next) => fallbacks.push(`${failed} -> ${next}`),
  });
  const orders = (ca: FakeCa) => ca.requests.filter((request) => request === "POST /order").length;
  return { clock, first, second, store, chain, fallbacks, orders, setFirstDown: (value: boolean) => void (firstDown = value) };
}

const problem = (type: string, status: number, retryAfter?: string) => (request: Request) => (request.url.endsWith("/order")
  ? Response.json({ type: `urn:ietf:params:acme:error:${type}`, detail: `the fake CA says: ${type}`, status }, { status, headers: { "content-type": "application/problem+json", ...(retryAfter ? { "retry-after": retryAfter } : {}) } })
  : undefined);

describe("IssuerChain", () => {
  test("with the first CA unreachable, obtains from the second, records it, and the next renewal starts at the first again", async () => {
    const world = twoCaWorld();
    world.setFirstDown(true);
    const obtained = await ensureLineage(world.store, config, world.chain);
    expect(obtained.kind).toBe("obtained");
    expect((await world.store.load(config.name))!.meta.directoryUrl).toBe(SECOND);
    expect([world.orders(world.first), world.orders(world.second)]).toEqual([0, 1]);
    expect(world.fallbacks).toEqual([`${FIRST} -> ${SECOND}`]);
    world.setFirstDown(false);
    world.clock.advance(6 * DAY); // 6 of the fake's 7 days gone: due
    const renewed = await ensureLineage(world.store, config, world.chain);
    expect(renewed.kind).toBe("renewed");
    expect((await world.store.load(config.name))!.meta.directoryUrl).toBe(FIRST);
    expect([world.orders(world.first), world.orders(world.second)]).toEqual([1, 1]);
  });

  test("a rate limit moves on at once, whatever the attempts, and the stored lineage names the second CA", async () => {
    const world = twoCaWorld({ intercept: problem("rateLimited", 429, "999999") }, { attempts: 3 });
    await ensureLineage(world.store, config, world.chain);
    expect(world.orders(world.first)).toBe(1);
    expect(world.orders(world.second)).toBe(1);
    expect((await world.store.load(config.name))!.meta.directoryUrl).toBe(SECOND);
  });

  test("an internal error of the first CA's validation is tried `attempts` times there, then at the second", async () => {
    const world = twoCaWorld({ onAnswer: "order-invalid", challengeError: { type: "urn:ietf:params:acme:error:serverInternal", detail: "the validator crashed" } }, { attempts: 2 });
    await ensureLineage(world.store, config, world.chain);
    expect([world.orders(world.first), world.orders(world.second)]).toEqual([2, 1]);
    expect((await world.store.load(config.name))!.meta.directoryUrl).toBe(SECOND);
  });

  test("a caller-side problem (a failed validation, a refused name) does not fall back: its error, the second CA untouched", async () => {
    for (const script of [{ onAnswer: "order-invalid" as const }, { intercept: problem("rejectedIdentifier", 400) }]) {
      const world = twoCaWorld(script);
      const error = await ensureLineage(world.store, config, world.chain).catch((caught: unknown) => caught);
      expect(error instanceof AcmeAuthorizationError || (error instanceof AcmeProblemError && error.is("rejectedIdentifier"))).toBe(true);
      expect(world.orders(world.second)).toBe(0);
      expect(world.fallbacks).toEqual([]);
      expect(await world.store.load(config.name)).toBeUndefined();
    }
  });

  test("ARI is asked of the CA that issued; when it is down, a lifetime schedule instead of an error", async () => {
    const ahead = { start: "2026-01-05T00:00:00Z", end: "2026-01-05T01:00:00Z" };
    const world = twoCaWorld({ renewalInfo: ahead });
    await ensureLineage(world.store, config, world.chain);
    expect((await world.store.load(config.name))!.meta.renewalSource).toBe("renewalInfo");
    world.setFirstDown(true);
    world.clock.advance(7 * 3_600_000); // past the CA's Retry-After (6 h): its renewalInfo is due to be asked again
    const outcome = await ensureLineage(world.store, config, world.chain);
    expect(outcome.kind).toBe("unchanged");
    const meta = (await world.store.load(config.name))!.meta;
    expect(meta.renewalSource).toBe("lifetime");
    expect(meta.ariRetryAt).toBeUndefined();
    expect(world.orders(world.second)).toBe(0);
  });

  test("renewalInfo is asked again of the CA that issued (the second), not of the first", async () => {
    const ahead = { start: "2026-01-05T00:00:00Z", end: "2026-01-05T01:00:00Z" };
    const world = twoCaWorld({ renewalInfo: ahead }, {}, { renewalInfo: ahead });
    world.setFirstDown(true);
    await ensureLineage(world.store, config, world.chain);
    world.setFirstDown(false);
    const asked = (ca: FakeCa) => ca.requests.filter((request) => request.startsWith("GET /renewal-info/")).length;
    const before = [asked(world.first), asked(world.second)];
    world.clock.advance(7 * 3_600_000);
    expect((await ensureLineage(world.store, config, world.chain)).kind).toBe("unchanged");
    expect([asked(world.first), asked(world.second)]).toEqual([before[0]!, before[1]! + 1]);
    expect((await world.store.load(config.name))!.meta.renewalSource).toBe("renewalInfo");
  });

  test("a renewal at another CA than the one that issued does not send it `replaces` (that CA never issued the certificate)", async () => {
    const window = { start: "2026-01-02T00:00:00Z", end: "2026-01-02T01:00:00Z" };
    const world = twoCaWorld({ renewalInfo: window }, {}, { renewalInfo: window });
    await ensureLineage(world.store, config, world.chain);
    world.setFirstDown(true);
    world.clock.advance(5 * DAY); // past 2/3 of the 7 days: due by its lifetime, as the first CA's ARI cannot be asked
    const renewed = await ensureLineage(world.store, config, world.chain);
    expect(renewed.kind).toBe("renewed");
    expect(world.second.orderPayloads.at(-1)).not.toHaveProperty("replaces");
    world.setFirstDown(false);
    world.clock.advance(2 * DAY);
    expect((await ensureLineage(world.store, config, world.chain)).kind).toBe("renewed");
    expect(world.first.orderPayloads.at(-1)).not.toHaveProperty("replaces"); // the first did not issue what it renews now either
  });

  test("when every CA fails, the first CA's error is thrown and nothing is saved", async () => {
    const world = twoCaWorld({ intercept: problem("rateLimited", 429, "999999") });
    world.second.script = { ...world.second.script, intercept: problem("serverInternal", 500) };
    const error = await ensureLineage(world.store, config, world.chain).catch((caught: unknown) => caught);
    expect(error instanceof AcmeProblemError && error.is("rateLimited")).toBe(true);
    expect(await world.store.load(config.name)).toBeUndefined();
  });
});

describe("isCaSideFailure()", () => {
  const of = (type: string, status = 403) => new AcmeProblemError({ type: `urn:ietf:params:acme:error:${type}`, detail: "x" }, status, "https://ca.test/x");
  test("is true for an unreachable CA, rate limits and internal errors, false for caller-side problems", () => {
    expect(isCaSideFailure(new AcmeConnectionError("https://ca.test/dir", "refused"))).toBe(true);
    for (const type of ["rateLimited", "serverInternal", "badNonce"]) expect(isCaSideFailure(of(type))).toBe(true);
    for (const type of ["rejectedIdentifier", "unauthorized", "caa", "dns", "incorrectResponse", "connection", "malformed"]) expect(isCaSideFailure(of(type))).toBe(false);
    expect(isCaSideFailure(new AcmeAuthorizationError({ type: "dns", value: "a.test" }, "http-01", "refused", { type: "urn:ietf:params:acme:error:connection", detail: "x" }))).toBe(false);
    expect(isCaSideFailure(new TypeError("a caller mistake"))).toBe(false);
  });
});
