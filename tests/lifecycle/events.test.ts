/**
 * The one event type: each of ensureLineage()'s outcomes (from the FAKE CA, a fake clock and the
 * memory store, in milliseconds) maps to its event with the certificate's facts, a failure keeps
 * the CA's problem document whole, and every event survives its JSON line (eventLine, read back by
 * parseEventLine, the schema check the CLI and daemon tests use too), which refuses what is not one.
 */
import { describe, expect, test } from "bun:test";
import { AcmeAuthorizationError, AcmeOrderError, AcmeProblemError, type AcmeProblem } from "../../src/acme/index.ts";
import { ensureLineage, eventLine, failureEvent, outcomeEvent, parseEventLine, stampEvent, type LineageOutcome, type UntimedEvent } from "../../src/lifecycle/index.ts";
import type { StoredLineage } from "../../src/store/index.ts";
import { describeEvent } from "../../src/cli/report.ts";
import { configFor, engineWorld, FAKE_DIRECTORY } from "../support/engine.ts";

const DAY = 86_400_000;
const config = configFor("ev.fake.test", "www.ev.fake.test");
const NOW = Date.parse("2026-11-30T06:00:00Z");

/** What every certificate event says of `lineage`. */
const factsOf = (lineage: StoredLineage) => ({
  lineage: "ev.fake.test", names: ["ev.fake.test", "www.ev.fake.test"], ca: FAKE_DIRECTORY,
  serial: lineage.meta.serial, notAfter: lineage.meta.notAfter, nextRenewal: lineage.meta.nextRenewal,
});

/** The event back from its JSON line: the line must hold the event whole. */
const throughLine = (event: UntimedEvent) => parseEventLine(eventLine(stampEvent(event, NOW)));

/** Every kind of outcome, made by the engine itself. */
async function outcomes(): Promise<Record<LineageOutcome["kind"] | "dry-run" | "damaged", LineageOutcome>> {
  const world = engineWorld();
  const issuer = world.issuer();
  const obtained = await ensureLineage(world.store, config, issuer);
  const unchanged = await ensureLineage(world.store, config, issuer);
  const stale = { ...obtained.lineage!, meta: { ...obtained.lineage!.meta, serial: "0BSOLETE" } };
  const takenUp = await ensureLineage(world.store, config, issuer, { current: stale });
  world.clock.advance(6 * DAY);
  const dryRun = await ensureLineage(world.store, config, issuer, { dryRun: true });
  const renewed = await ensureLineage(world.store, config, issuer);
  const held = await world.store.lock(config.name);
  const locked = await ensureLineage(world.store, config, issuer, { lockWait: 0, force: true });
  await held.release();
  const other = await ensureLineage(world.store, configFor("other.fake.test"), issuer);
  await world.store.save({ ...renewed.lineage!, chainPem: other.lineage!.chainPem });
  const damaged = await ensureLineage(world.store, config, issuer);
  return { obtained, unchanged, "taken-up": takenUp, "dry-run": dryRun, renewed, "locked-elsewhere": locked, damaged };
}

describe("outcomeEvent()", () => {
  test("maps each of the engine's outcomes to its event, with the certificate's facts; each survives its JSON line", async () => {
    const all = await outcomes();
    expect(Object.fromEntries(Object.entries(all).map(([name, outcome]) => [name, outcomeEvent(outcome, config).type]))).toEqual({
      obtained: "obtained", unchanged: "not_due", "taken-up": "updated", "dry-run": "dry_run", renewed: "renewed", "locked-elsewhere": "failed", damaged: "obtained",
    });
    expect(outcomeEvent(all.obtained, config)).toEqual({ type: "obtained", ...factsOf(all.obtained.lineage!) });
    expect(outcomeEvent(all.unchanged, config)).toEqual({ type: "not_due", ...factsOf(all.obtained.lineage!) });
    expect(outcomeEvent(all["taken-up"], config)).toEqual({ type: "updated", ...factsOf(all.obtained.lineage!), message: "renewed by another instance" });
    expect(outcomeEvent(all["dry-run"], config)).toEqual({ type: "dry_run", ...factsOf(all["dry-run"].lineage!) });
    expect(all["dry-run"].lineage!.meta.serial).not.toBe(all.obtained.lineage!.meta.serial);
    const renewed = all.renewed as Extract<LineageOutcome, { kind: "renewed" }>;
    expect(outcomeEvent(renewed, config)).toEqual({ type: "renewed", ...factsOf(renewed.lineage), previousSerial: all.obtained.lineage!.meta.serial });
    expect(outcomeEvent(all["locked-elsewhere"], config)).toMatchObject({ type: "failed", ...factsOf(renewed.lineage), code: "ERR_STORE_LOCKED" });
    const damaged = outcomeEvent(all.damaged, config);
    expect(damaged).toMatchObject({ type: "obtained", ...factsOf(all.damaged.lineage!) });
    expect(damaged.type === "obtained" && damaged.damage).toContain("another key than the lineage's private key");
    for (const outcome of Object.values(all)) {
      const event = outcomeEvent(outcome, config);
      expect(throughLine(event)).toEqual(stampEvent(event, NOW));
    }
  });

  test("a failure keeps the CA's problem document whole, with the error's code, through the JSON line", () => {
    const problem: AcmeProblem = {
      type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "Error creating new order :: 2 identifiers forbidden", status: 400,
      subproblems: [{ type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "forbidden by policy", identifier: { type: "dns", value: "ev.fake.test" } }],
    };
    const event = failureEvent(config, new AcmeProblemError(problem, 400, "https://fake-ca.test/new-order"), { at: "2026-11-30T07:00:00.000Z" });
    expect(event).toMatchObject({ type: "failed", lineage: "ev.fake.test", names: ["ev.fake.test", "www.ev.fake.test"], ca: FAKE_DIRECTORY, code: "ERR_ACME_PROBLEM", at: "2026-11-30T07:00:00.000Z" });
    expect(event.type === "failed" && event.problem).toEqual(problem);
    expect(throughLine(event)).toEqual(stampEvent(event, NOW));
  });

  test("a failed challenge or order keeps the problem document it ended with (the commonest failure a CA reports)", () => {
    const problem: AcmeProblem = {
      type: "urn:ietf:params:acme:error:unauthorized", detail: "No TXT records found for DNS challenge", status: 403,
      subproblems: [{ type: "urn:ietf:params:acme:error:dns", detail: "SERVFAIL", identifier: { type: "dns", value: "ev.fake.test" } }],
    };
    const challenge = failureEvent(config, new AcmeAuthorizationError({ type: "dns", value: "ev.fake.test" }, "dns-01", "invalid", problem));
    expect(challenge).toMatchObject({ code: "ERR_ACME_AUTHORIZATION", problem });
    expect(throughLine(challenge)).toEqual(stampEvent(challenge, NOW));
    const order = failureEvent(config, new AcmeOrderError("https://fake-ca.test/order/1", problem));
    expect(order).toMatchObject({ code: "ERR_ACME_ORDER", problem });
    expect(failureEvent(config, new AcmeOrderError("https://fake-ca.test/order/1", undefined))).not.toHaveProperty("problem");
  });
});

describe("eventLine()", () => {
  test("writes the names scripts already read: event, snake_case fields; the problem document as the CA sent it", async () => {
    const { renewed } = await outcomes();
    const event = outcomeEvent(renewed, config);
    if (event.type !== "renewed") throw new Error(`a renewal made ${event.type}`);
    const line = JSON.parse(eventLine(stampEvent({ ...event, hookError: "deploy hook exited 1" }, NOW)));
    expect(Object.keys(line)).toEqual(["event", "time", "lineage", "names", "ca", "serial", "not_after", "next_renewal", "previous_serial", "hook_error"]);
    expect(line).toMatchObject({ event: "renewed", time: "2026-11-30T06:00:00.000Z", not_after: renewed.lineage!.meta.notAfter });
    const failed = JSON.parse(eventLine(stampEvent({ type: "failed", lineage: "x", names: [], error: "no", problem: { type: "urn:x", subproblems: [{ type: "urn:y" }] } }, NOW)));
    expect(failed.problem).toEqual({ type: "urn:x", subproblems: [{ type: "urn:y" }] });
  });
});

describe("parseEventLine()", () => {
  const good = eventLine(stampEvent({ type: "not_due", lineage: "a", names: ["a"], serial: "01", notAfter: "2027-01-01T00:00:00.000Z", nextRenewal: "2026-12-01T00:00:00.000Z" }, NOW));
  const edit = (change: (wire: Record<string, unknown>) => void) => {
    const wire = JSON.parse(good) as Record<string, unknown>;
    change(wire);
    return JSON.stringify(wire);
  };

  test("reads a line back as the event", () => {
    expect(parseEventLine(good)).toMatchObject({ type: "not_due", time: "2026-11-30T06:00:00.000Z", notAfter: "2027-01-01T00:00:00.000Z" });
  });

  test.each([
    ["a missing field", edit((wire) => delete wire.not_after), '"not_after" is missing'],
    ["a field of the wrong kind", edit((wire) => (wire.names = "a")), '"names" is not strings'],
    ["a time that is not one", edit((wire) => (wire.next_renewal = "soon")), '"next_renewal" is not time'],
    ["a field the type does not have", edit((wire) => (wire.at = "2027-01-01T00:00:00.000Z")), '"at" is not one of its fields'],
    ["a field in the type's spelling, not the line's", edit((wire) => (wire.notAfter = "2027-01-01T00:00:00.000Z")), '"notAfter" is not one of its fields'],
    ["an unknown type", edit((wire) => (wire.event = "renewal_failed")), '"event" "renewal_failed" is not an event type'],
    ["no time", edit((wire) => delete wire.time), '"time" is missing'],
    ["an array", "[]", "it is not a JSON object"],
  ])("refuses %s, naming it", (_, line, message) => {
    expect(() => parseEventLine(line)).toThrow(message);
  });

  test("refuses text that is not JSON", () => {
    expect(() => parseEventLine("life.test: renewed")).toThrow(SyntaxError);
  });
});

describe("describeEvent()", () => {
  test("the line people read, the same for the CLI and the daemon", async () => {
    const { obtained, unchanged } = await outcomes();
    const meta = obtained.lineage!.meta;
    expect(describeEvent(outcomeEvent(obtained, config))).toBe(`ev.fake.test: obtained (serial ${meta.serial}, expires ${meta.notAfter}, next renewal ${meta.nextRenewal})`);
    expect(describeEvent(outcomeEvent(unchanged, config))).toBe(`ev.fake.test: not due until ${meta.nextRenewal} (expires ${meta.notAfter})`);
    expect(describeEvent({ type: "failed", lineage: "a", names: ["a"], error: "the CA said no", at: "2026-11-30T07:00:00.000Z" })).toBe("a: failed: the CA said no; tried again at 2026-11-30T07:00:00.000Z");
  });
});
