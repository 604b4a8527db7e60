/**
 * ensureLineage(), the one engine, against the FAKE CA with a fake clock and the memory store:
 * every path (obtain, keep, renew, take up, locked elsewhere, ARI re-check, account reset, lost
 * lock, damaged lineage) in milliseconds, counting the orders the CA received.
 */
import { describe, expect, test } from "bun:test";
import { AcmeProblemError } from "../../src/acme/index.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureLineage, Issuer } from "../../src/lifecycle/index.ts";
import { FileCertificateStore, LockLostError, StoreError } from "../../src/store/index.ts";
import { configFor, engineWorld, FAKE_DIRECTORY, nothingToPresent } from "../support/engine.ts";
import { makeTempDir } from "../support/temp.ts";

const DAY = 86_400_000;
const config = configFor("a.fake.test", "www.a.fake.test");

describe("ensureLineage()", () => {
  test("obtains and saves a first certificate; a second call keeps it without an order", async () => {
    const world = engineWorld();
    const issuer = world.issuer();
    const first = await ensureLineage(world.store, config, issuer);
    expect(first.kind).toBe("obtained");
    expect((await world.store.load(config.name))!.meta.serial).toBe(first.kind === "obtained" ? first.lineage.meta.serial : "");
    const second = await ensureLineage(world.store, config, issuer);
    expect(second.kind).toBe("unchanged");
    expect(world.orders()).toBe(1);
    expect(world.store.isLocked(config.name)).toBe(false);
  });

  test("renews once due (a third of the lifetime left), sending the ARI ID as replaces when the CA offers ARI; dry runs save nothing", async () => {
    const world = engineWorld({ renewalInfo: { start: "2030-01-01T00:00:00Z", end: "2030-01-02T00:00:00Z" } });
    const issuer = world.issuer();
    const obtained = await ensureLineage(world.store, config, issuer);
    world.clock.advance(6 * DAY); // the window is far ahead, but 6 of 7 days are gone: the ARI answer moves nothing earlier
    world.ca.follow({ ...world.ca.script, renewalInfo: { start: new Date(world.clock.now() - DAY).toISOString(), end: new Date(world.clock.now() - 1).toISOString() } });
    const dry = await ensureLineage(world.store, config, issuer, { dryRun: true });
    expect(dry.kind).toBe("renewed");
    expect((await world.store.load(config.name))!.meta.serial).toBe(obtained.kind === "obtained" ? obtained.lineage.meta.serial : "");
    const renewed = await ensureLineage(world.store, config, issuer);
    expect(renewed.kind).toBe("renewed");
    expect((world.ca.orderPayloads.at(-1) as { replaces?: string }).replaces).toBe(obtained.kind === "obtained" ? obtained.lineage.meta.ariCertId! : "");
    expect((await world.store.load(config.name))!.meta.serial).toBe(renewed.kind === "renewed" ? renewed.lineage.meta.serial : "");
  });

  test("asks the CA's renewalInfo again once its Retry-After passed, saves the new schedule, and orders nothing while the window is ahead", async () => {
    const world = engineWorld({ renewalInfo: { start: "2026-01-05T00:00:00Z", end: "2026-01-05T01:00:00Z" } });
    const issuer = world.issuer();
    await ensureLineage(world.store, config, issuer);
    const before = (await world.store.load(config.name))!.meta;
    expect(before.renewalSource).toBe("renewalInfo");
    const asked = () => world.ca.requests.filter((request) => request.startsWith("GET /renewal-info/")).length;
    const askedBefore = asked();
    world.clock.advance(7 * 3_600_000); // past Retry-After (6 h), before the window
    world.ca.follow({ ...world.ca.script, renewalInfo: { start: "2026-01-06T00:00:00Z", end: "2026-01-06T01:00:00Z" } });
    const outcome = await ensureLineage(world.store, config, issuer);
    expect(outcome.kind).toBe("unchanged");
    expect(asked()).toBe(askedBefore + 1);
    const after = (await world.store.load(config.name))!.meta;
    expect(Date.parse(after.nextRenewal)).toBeGreaterThanOrEqual(Date.parse("2026-01-06T00:00:00Z"));
    expect(Date.parse(after.ariRetryAt!)).toBeGreaterThan(world.clock.now());
    expect(world.orders()).toBe(1);
  });

  test("with the lock held elsewhere and no wait: locked-elsewhere, nothing ordered", async () => {
    const world = engineWorld();
    const lock = await world.store.lock(config.name);
    const outcome = await ensureLineage(world.store, config, world.issuer(), { lockWait: 0 });
    expect(outcome.kind).toBe("locked-elsewhere");
    expect(world.orders()).toBe(0);
    await lock.release();
  });

  test("exactly once: an instance waiting for the lock while another renews takes up the other's certificate under the lock, even when it already serves it", async () => {
    const world = engineWorld();
    const [a, b] = [world.issuer(), world.issuer()];
    const first = await ensureLineage(world.store, config, a);
    world.clock.advance(6 * DAY);
    // A holds the lock and renews; B comes while it does, having taken up nothing yet.
    const held = await world.store.lock(config.name);
    const waiting = ensureLineage(world.store, config, b, { lockWait: 60_000, current: first.lineage! });
    const renewedByA = await a.obtain(config);
    await world.store.save(renewedByA, held);
    await held.release();
    const outcome = await waiting;
    expect(outcome.kind).toBe("taken-up");
    expect(outcome.lineage!.meta.serial).toBe(renewedByA.meta.serial);
    // And when B already serves A's certificate (taken up from the announcement), it still orders nothing.
    const again = await ensureLineage(world.store, config, b, { lockWait: 60_000, current: renewedByA });
    expect(again.kind).toBe("unchanged");
    expect(world.orders()).toBe(2);
  });

  test("exactly once: the certificate the caller serves changing while it waits for the lock (taken up from an announcement) never makes it order again", async () => {
    const world = engineWorld();
    const [a, b] = [world.issuer(), world.issuer()];
    const first = (await ensureLineage(world.store, config, a)).lineage!;
    world.clock.advance(6 * DAY);
    const slot = { current: first }; // what B serves; its announcement handler replaces it
    const held = await world.store.lock(config.name);
    const waiting = ensureLineage(world.store, config, b, { lockWait: 60_000, get current() { return slot.current; } });
    const renewedByA = await a.obtain(config);
    await world.store.save(renewedByA, held);
    slot.current = renewedByA; // B took up A's renewal while it waited
    await held.release();
    const outcome = await waiting;
    expect(outcome.kind).toBe("unchanged");
    expect(outcome.lineage!.meta.serial).toBe(renewedByA.meta.serial);
    expect(world.orders()).toBe(2);
  });

  test("exactly once: ten instances due at the same moment make one order between them", async () => {
    const world = engineWorld();
    await ensureLineage(world.store, config, world.issuer());
    world.clock.advance(6 * DAY);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => ensureLineage(world.store, config, world.issuer(), { lockWait: 60_000 })));
    expect(outcomes.filter((outcome) => outcome.kind === "renewed")).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === "unchanged")).toHaveLength(9);
    expect(new Set(outcomes.map((outcome) => outcome.lineage!.meta.serial)).size).toBe(1);
    expect(world.orders()).toBe(2);
  });

  test("a lock lost during the issuance (its lease ran out) stops the order before it is finalized, and nothing is saved", async () => {
    const world = engineWorld();
    const issuer = world.issuer({
      type: "http-01",
      present: () => world.store.expireLock(config.name), // the lease runs out while the challenge is being answered
      cleanup: () => {},
    });
    const outcome = ensureLineage(world.store, config, issuer);
    await expect(outcome).rejects.toBeInstanceOf(LockLostError);
    expect(world.ca.requests.filter((request) => request.startsWith("POST /finalize/"))).toHaveLength(0);
    expect(await world.store.load(config.name)).toBeUndefined();
  });

  test("a lock lost without the holder noticing yet (between two lease renewals): the save is fenced, nothing is written", async () => {
    const world = engineWorld();
    const issuer = world.issuer({ type: "http-01", present: () => world.store.expireLock(config.name, false), cleanup: () => {} });
    const error = await ensureLineage(world.store, config, issuer).catch((caught: unknown) => caught);
    expect((error as StoreError).code).toBe("ERR_STORE_FENCED");
    expect(await world.store.load(config.name)).toBeUndefined();
  });

  test("a CA that forgot the account (reset): registered again once, and the issuance goes through", async () => {
    const world = engineWorld();
    const issuer = world.issuer();
    await ensureLineage(world.store, config, issuer);
    world.ca.forgetAccounts();
    const outcome = await ensureLineage(world.store, config, issuer, { force: true });
    expect(outcome.kind).toBe("renewed");
    expect(issuer.accountsOpened).toBe(2);
    expect(world.orders()).toBe(2);
  });

  test("a CA refusing for another reason is not retried with a new account", async () => {
    const world = engineWorld({ onAnswer: "order-invalid" });
    const issuer = world.issuer();
    await expect(ensureLineage(world.store, config, issuer)).rejects.toThrow();
    expect(issuer.accountsOpened).toBe(1);
    expect(world.store.isLocked(config.name)).toBe(false);
  });

  test("a damaged stored lineage (another lineage's certificate over it) is obtained again under the lock, naming the damage", async () => {
    const world = engineWorld();
    const issuer = world.issuer();
    const other = configFor("b.fake.test");
    await ensureLineage(world.store, config, issuer);
    const b = await ensureLineage(world.store, other, issuer);
    const mine = (await world.store.load(config.name))!;
    await world.store.save({ ...mine, chainPem: b.lineage!.chainPem });
    const outcome = await ensureLineage(world.store, config, issuer);
    expect(outcome.kind).toBe("obtained");
    expect(outcome.kind === "obtained" && outcome.damage).toContain("another key than the lineage's private key");
    expect(world.orders()).toBe(3);
    const unreadable = engineWorld();
    unreadable.store.load = async () => {
      throw new StoreError("metadata.json is not JSON", "ERR_STORE_CORRUPT");
    };
    const replaced = await ensureLineage(unreadable.store, config, unreadable.issuer());
    expect(replaced.kind === "obtained" && replaced.damage).toBe("metadata.json is not JSON");
  });

  test("in the file store, a damaged metadata.json is damage too: named, obtained again, the files replaced whole", async () => {
    const world = engineWorld();
    const store = new FileCertificateStore(makeTempDir("bun-acme-engine-"));
    const issuer = new Issuer({ directoryUrl: FAKE_DIRECTORY, fetch: world.ca.fetch, clock: world.clock, solver: nothingToPresent });
    await ensureLineage(store, config, issuer);
    const metadata = join(store.locate(config.name), "metadata.json");
    writeFileSync(metadata, "{ not json");
    const outcome = await ensureLineage(store, config, issuer);
    expect(outcome.kind).toBe("obtained");
    expect(outcome.kind === "obtained" && outcome.damage).toContain(metadata);
    expect((await store.load(config.name))!.meta.serial).toBe(outcome.lineage!.meta.serial);
  });

  test("an account problem other than accountDoesNotExist keeps its problem document", async () => {
    const world = engineWorld({ intercept: (request) => (request.url.endsWith("/order") ? Response.json({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many", status: 429 }, { status: 429, headers: { "content-type": "application/problem+json", "retry-after": "999999" } }) : undefined) });
    const error = await ensureLineage(world.store, config, world.issuer()).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).is("rateLimited")).toBe(true);
  });
});
