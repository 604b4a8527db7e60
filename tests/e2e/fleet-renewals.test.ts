/**
 * Renewals exactly once in a fleet, with real components: four instances of a manage() program on
 * one real redis-server, then on one real PostgreSQL, behind a real HAProxy that round-robins Pebble's http-01 validations over
 * them, twenty names, Pebble's 20-second certificates (renewed every ~13 s), for about 50 s. Each
 * instance hears the others' saves (announcements) and compares every certificate with the store
 * every 250 ms, the moments at which an instance used to take up another's renewal and then order
 * the same renewal again. Pebble's log counts the certificates issued (finalized orders): every one
 * must be a save one instance reports, and no name may get two certificates for one renewal.
 *
 * Each instance orders at most 4 certificates at once (manage()'s default `concurrency`), so a
 * round of twenty renewals over four instances takes two waves of orders: about 4.5 s on
 * PostgreSQL (3.1 s when every instance ordered all it found due at once). With 15-second
 * certificates that left too short a pause between rounds for the count below to find one in
 * some runs; 20-second certificates leave about 8 s.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startHaproxy, type Haproxy } from "../support/haproxy.ts";
import type { LineReader } from "../support/lines.ts";
import { startInstance, stopInstances } from "../support/fleet.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startPostgres, type Postgres } from "../support/postgres.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";

setDefaultTimeout(90_000);

const LIFETIME_S = 20;
const RUN_MS = 50_000;
const INSTANCES = [0, 1, 2, 3].map((index) => ({ http: 6002 + index, https: 7001 + index }));
let pebble: Pebble;
let redis: Redis;
let postgres: Postgres;
let haproxy: Haproxy;
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: LIFETIME_S } });
  redis = await startRedis(16382);
  postgres = await startPostgres(16436);
  haproxy = await startHaproxy({ http: { port: 5002, backends: INSTANCES.map((instance) => instance.http) } });
});
afterAll(async () => {
  await haproxy?.stop();
  await redis?.stop();
  await postgres?.stop();
  await pebble?.stop();
});
useLoopbackResolver();

/** Waits until none of `readers` received a line for `quietMs` (at most `timeoutMs`). */
async function quiet(readers: readonly LineReader[], quietMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = readers.map((reader) => reader.text().length).join();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error(`the fleet never went quiet for ${quietMs} ms`);
    await Bun.sleep(100);
    const now = readers.map((reader) => reader.text().length).join();
    if (now !== last) [last, since] = [now, Date.now()];
  }
}

/** Whether `event` (a failed event) is an http-01 validation that HAProxy itself answered with a 5xx. */
function balancerFailed(event: Record<string, unknown>, balancerErrors: readonly string[]): boolean {
  const detail = (event.problem as { detail?: string } | undefined)?.detail ?? "";
  const token = /\/\.well-known\/acme-challenge\/([\w-]+) returned 5\d\d$/.exec(detail)?.[1];
  return token !== undefined && balancerErrors.some((line) => line.includes(`/.well-known/acme-challenge/${token} `));
}

/** Orders Pebble finalized so far: the certificates it issued. */
const finalizedAtPebble = () => pebble.log().split("\n").filter((line) => line.includes("POST /finalize-order/")).length;

const BACKENDS = [{ kind: "Redis", url: () => redis.url }, { kind: "PostgreSQL", url: () => postgres.url }] as const;

for (const backend of BACKENDS) describe(`a fleet renewing short-lived certificates on one ${backend.kind} store`, () => {
  test("four instances, twenty names, several renewal rounds: one certificate per renewal, every one saved once", async () => {
    const names = Array.from({ length: 20 }, (_, index) => `r${index + 1}.${backend.kind.toLowerCase()}.renewals.fleet.test`);
    const before = finalizedAtPebble();
    const instances = INSTANCES.map((ports) => startInstance(pebble, backend.url(), ports, names, { FLEET_CHECK_MS: "250", FLEET_RETRY_MS: "1000" }));
    let issued: number;
    let saves: Record<string, string>[];
    try {
      for (const instance of instances) await instance.serving(60_000);
      await Bun.sleep(RUN_MS); // the renewals happen on their own schedule; this is the observation window, not a synchronisation
      // Counted between two renewal rounds (no instance printed anything for 2 s): no issuance is half done.
      await quiet(instances.map((instance) => instance.stdout), 2_000, 20_000);
      issued = finalizedAtPebble() - before;
      saves = instances.flatMap((instance) => [...instance.events("obtained"), ...instance.events("renewed")]);
    } finally {
      await stopInstances(instances);
    }
    const balancerErrors = haproxy.log().split("\n").filter((line) => / 5\d\d \d+ /.test(line));
    if (balancerErrors.length > 0) console.log(`[fleet-renewals] HAProxy answered with an error (its log):\n${balancerErrors.join("\n")}`);
    const rounds = saves.length / names.length;
    console.log(`[fleet-renewals] ${backend.kind}: ${issued} certificates issued by Pebble, ${saves.length} saves reported (${rounds.toFixed(1)} per name) by instances ${instances.map((instance) => instance.events("renewed").length).join("/")}`);
    expect(rounds).toBeGreaterThanOrEqual(4); // the first issuance and at least three renewal rounds were observed
    // Two certificates for one renewal: the same name issued twice within a third of a lifetime.
    const doubles: string[] = [];
    for (const name of names) {
      const expiries = saves.filter((save) => save.lineage === name).map((save) => Date.parse(save.notAfter!)).sort((a, b) => a - b);
      for (let index = 1; index < expiries.length; index++) {
        if (expiries[index]! - expiries[index - 1]! < (LIFETIME_S * 1000) / 3) doubles.push(`${name}: ${new Date(expiries[index - 1]!).toISOString()} and ${new Date(expiries[index]!).toISOString()}`);
      }
    }
    expect(doubles).toEqual([]);
    expect(issued).toBe(saves.length);
    // A failure is allowed only where the balancer, not an instance, failed a validation: HAProxy
    // answered Pebble with a 5xx for that very challenge (an instance it could not reach for a
    // moment on a loaded machine). The renewal is then ordered again, and the checks above still
    // hold: no second certificate for it, every certificate saved once.
    const unexplained = instances.flatMap((instance) => instance.events("failed")).filter((event) => !balancerFailed(event, balancerErrors));
    expect(unexplained).toEqual([]);
  });
});
