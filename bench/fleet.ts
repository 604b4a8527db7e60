/**
 * The fleet benchmark: 200 certificates obtained by 1, 2, 4 and 8 instances of a manage() program
 * sharing one Redis or one PostgreSQL (real servers from Debian), behind HAProxy for the CA's
 * http-01 requests, against Pebble. For each: time from starting the instances to all of them
 * serving all 200, orders placed and certificates issued at the CA (from Pebble's log; issued must
 * be 200), every failed attempt, and store work per certificate, counted by the servers themselves
 * (Redis: `total_commands_processed`, which counts the commands inside Lua scripts too, and
 * `INFO commandstats` by command; PostgreSQL: statements in its log with `log_statement = all`).
 * Writes bench/fleet-results.md (or FLEET_RESULTS).
 *
 *   bun run bench:fleet [--rounds N] [--certificates N] [--instances 1,2,4,8] [--stores redis,postgres]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SQL } from "bun";
import { startDnsServer } from "../src/dns/index.ts";
import { issuedAtPebble, ordersAtPebble, pebbleAnswersPosts, startInstance, stopInstances, type FleetInstance } from "../tests/support/fleet.ts";
import { startHaproxy } from "../tests/support/haproxy.ts";
import { startPebble } from "../tests/support/pebble.ts";
import { startPostgres } from "../tests/support/postgres.ts";
import { startRedis } from "../tests/support/redis.ts";
import { median } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const rounds = option("--rounds", 1);
const certificates = option("--certificates", 200);
const list = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback).split(",");
const INSTANCE_COUNTS = list("--instances", "1,2,4,8").map(Number);
const STORES = list("--stores", "redis,postgres");
const log = (line: string) => console.log(`[bench] ${line}`);

interface Run { seconds: number; orders: number; issued: number; roundTrips: number; perInstance: number[]; failures: string[]; validations: number; notOk: number; clientErrors: number; connectionErrors: number; byCommand?: string }

const started = Date.now();
const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10056, zone: { address: "127.0.0.1", txtValues: () => [] } });
const pebble = await startPebble({ dnsServer: "127.0.0.1:10056" });
const redis = await startRedis(16390);
const postgres = await startPostgres(16491, { log_statement: "all" });

const redisCommands = () => Number(/total_commands_processed:(\d+)/.exec(Bun.spawnSync(["redis-cli", "-p", "16390", "INFO", "stats"]).stdout.toString())![1]);
const postgresStatements = () => readFileSync(postgres.logFile, "utf8").split("\n").filter((line) => /LOG: {2}(statement|execute)/.test(line)).length;
/** Redis's own count of each command since the last `CONFIG RESETSTAT`, per certificate (what the total is made of). */
const commandStats = (per: number) => [...Bun.spawnSync(["redis-cli", "-p", "16390", "INFO", "commandstats"]).stdout.toString().matchAll(/cmdstat_(\w+):calls=(\d+)/g)]
  .filter(([, command]) => command !== "info" && command !== "config")
  .sort((a, b) => Number(b[2]) - Number(a[2]))
  .map(([, command, calls]) => `${command!.toUpperCase()} ${(Number(calls) / per).toFixed(2)}`).join(", ");
const backends = {
  redis: {
    url: redis.url,
    reset: () => void Bun.spawnSync(["redis-cli", "-p", "16390", "FLUSHALL"]),
    roundTrips: redisCommands,
  },
  postgres: {
    url: postgres.url,
    reset: async () => {
      const sql = new SQL(postgres.url);
      await sql.unsafe("drop table if exists bun_acme_lineages, bun_acme_locks, bun_acme_challenges, bun_acme_account, bun_acme_settings");
      await sql.close();
    },
    roundTrips: postgresStatements,
  },
};

/** How long the fleet may obtain nothing before Pebble is asked whether it still answers. */
const STALL_CHECK_MS = 30_000;

/**
 * Ends a run whose fleet obtains nothing for {@link STALL_CHECK_MS} while Pebble answers no signed
 * POST (its GET /dir still answers): Pebble's own deadlock, reported as such at once instead of
 * after the 15-minute wait, with what each instance had obtained.
 */
async function failOnPebbleStall(instances: readonly FleetInstance[], done: AbortSignal): Promise<void> {
  const obtained = () => instances.reduce((sum, instance) => sum + instance.events("obtained").length, 0);
  for (let seen = -1; !done.aborted;) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, STALL_CHECK_MS);
      done.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (done.aborted) return;
    const now = obtained();
    if (now !== seen) {
      seen = now;
      continue;
    }
    if (!(await pebbleAnswersPosts(pebble))) {
      const failures = instances.flatMap((instance) => instance.events("failed").map((event) => `${event.lineage}: ${event.error}`));
      throw new Error(`Pebble answers no signed POST (GET /dir still answers) and the fleet obtained nothing for ${STALL_CHECK_MS / 1000} s at ${now} certificates `
        + `(per instance ${instances.map((instance) => instance.events("obtained").length).join("/")}): Pebble's store is deadlocked; send it SIGQUIT for its goroutine dump. `
        + `Failed attempts before: ${failures.length}${failures.length ? ` (first: ${failures[0]})` : ""}`);
    }
  }
}

let runCount = 0;
async function run(backend: keyof typeof backends, instances: number, round: number): Promise<Run> {
  const { url, reset, roundTrips } = backends[backend];
  await reset();
  // Names never used before in this Pebble (it would reuse their valid authorizations): a run of its own per list entry too.
  const names = Array.from({ length: certificates }, (_, index) => `c${index}.r${round}.n${instances}.${++runCount}.${backend}.bench.test`);
  const ordersBefore = ordersAtPebble(pebble);
  const issuedBefore = issuedAtPebble(pebble);
  if (backend === "redis") Bun.spawnSync(["redis-cli", "-p", "16390", "CONFIG", "RESETSTAT"]);
  const tripsBefore = roundTrips();
  const haproxy = await startHaproxy({ http: { port: 5002, backends: Array.from({ length: instances }, (_, index) => 6002 + index) } });
  const begin = performance.now();
  const running = Array.from({ length: instances }, (_, index) => startInstance(pebble, url, { http: 6002 + index, https: 7001 + index }, names));
  const done = new AbortController();
  try {
    const serving = Promise.all(running.map((instance) => instance.serving(900_000)));
    serving.catch(() => {}); // when the stall check ends the run first, the instances are stopped under it
    await Promise.race([serving, failOnPebbleStall(running, done.signal)]);
    const seconds = (performance.now() - begin) / 1000;
    const trips = roundTrips() - tripsBefore;
    const byCommand = backend === "redis" ? commandStats(certificates) : undefined;
    if (byCommand) log(`per certificate, by command: ${byCommand}`);
    const failures = running.flatMap((instance) => instance.events("renewal_failed").map((event) => `${event.lineage}: ${event.message}`));
    // Pebble's validation requests as HAProxy saw each instance answer them: any answer but 2xx (a 404 for a presented answer) is counted.
    const servers = [...(await haproxy.stats()).values()];
    const validations = servers.reduce((sum, server) => sum + server.requests, 0);
    const notOk = servers.reduce((sum, server) => sum + server.requests - server.ok, 0);
    const clientErrors = servers.reduce((sum, server) => sum + server.clientErrors, 0);
    const connectionErrors = servers.reduce((sum, server) => sum + server.failed, 0);
    const result = {
      validations, notOk, clientErrors, connectionErrors,
      seconds, orders: ordersAtPebble(pebble) - ordersBefore, issued: issuedAtPebble(pebble) - issuedBefore, roundTrips: trips / certificates,
      perInstance: running.map((instance) => instance.events("obtained").length), failures, ...(byCommand ? { byCommand } : {}),
    };
    log(`${backend}, ${instances} instance(s): ${seconds.toFixed(2)} s, ${result.orders} orders, ${result.issued} certificates issued, ${result.roundTrips.toFixed(1)} store commands per certificate, obtained per instance ${result.perInstance.join("/")}, validation requests ${validations} (not 2xx: ${notOk}, of which 4xx: ${clientErrors}; connection or response errors: ${connectionErrors})`);
    for (const failure of failures) log(`failed attempt: ${failure}`);
    if (failures.length || notOk) log(`HAProxy: ${await fetch("http://127.0.0.1:15002/stats;csv").then((response) => response.text())}`);
    return result;
  } finally {
    done.abort();
    await stopInstances(running);
    await haproxy.stop();
  }
}

const results: Record<string, Run[]> = {};
try {
  for (const backend of (Object.keys(backends) as (keyof typeof backends)[]).filter((name) => STORES.includes(name))) {
    for (const instances of INSTANCE_COUNTS) {
      for (let round = 0; round < rounds; round++) (results[`${backend}/${instances}`] ??= []).push(await run(backend, instances, round));
    }
  }
} finally {
  await redis.stop();
  await postgres.stop();
  await pebble.stop();
  dns.stop();
}

const rows = Object.entries(results).map(([key, runs]) => {
  const [backend, instances] = key.split("/");
  const seconds = median(runs.map((r) => r.seconds));
  const one = results[`${backend}/1`];
  const speedUp = one ? `${(median(one.map((r) => r.seconds)) / seconds).toFixed(2)}×` : "–"; // no 1-instance row was asked for
  return `| ${backend === "redis" ? "Redis 7.0" : "PostgreSQL 15"} | ${instances} | ${seconds.toFixed(2)} s | ${(certificates / seconds).toFixed(1)} | ${speedUp} | ` +
    `${runs.map((r) => `${r.orders} / ${r.issued}`).join(", ")} | ${runs.map((r) => `${r.validations} / ${r.notOk} / ${r.clientErrors}`).join(", ")} | ${median(runs.map((r) => r.roundTrips)).toFixed(1)} | ${runs.at(-1)!.perInstance.join(" / ")} |`;
});
const markdown = `# Fleet benchmark results

Run on ${new Date().toISOString().slice(0, 10)}, ${rounds} round(s), ${certificates} certificates (one name each, http-01 through HAProxy round-robin), in ${Math.round((Date.now() - started) / 1000)} s with \`bun run bench:fleet\`.
Pebble 2.4.0 (\`PEBBLE_VA_NOSLEEP=1\`), every server on this machine's 2 cores (shared with other work: compare rows of one run, not
runs). Time: from starting the instances (each a Bun process running \`manage()\` for all ${certificates} names) to every instance
serving all of them. Orders: placed at Pebble (\`POST /order-plz\`) and certificates issued (\`POST /finalize-order/\`), from
Pebble's log; an order placed but not finalized is one whose validation failed and that was placed again. Validation
requests: Pebble's http-01 fetches as HAProxy's statistics count them per instance, how many an instance did not answer
2xx, and of those how many it answered 4xx (a 404 for a presented answer would be one; the others are requests HAProxy
could not connect with to an instance whose HTTP port was not open yet, and sent to another: its \`wredis\`). Store commands:
counted by the store's server (Redis \`total_commands_processed\`, which includes the commands run inside our Lua scripts;
PostgreSQL statements logged with \`log_statement = all\`: one statement with data-modifying CTEs counts once, \`BEGIN\` and
\`COMMIT\` count where a transaction is used), everything included (locks and their renewals, loads, saves, announcements,
shared challenge answers, the account), divided by the number of certificates.

Each instance reads every certificate at start in one batch (\`loadMany\`), starts at a random certificate and moves into the
longest stretch no one was seen on when it meets another instance's lock, leaving to the others the few certificates after
one they saved or next to a lock it met (awaited, tried after 1.5 of its own mean engine run unless their save is heard
first), takes up what the others saved from their announcements (both stores' announcements carry the record, so nothing
is read), and waits for the announcement of a certificate locked elsewhere: its save, or its lock released without a save
(announced too), trying the lock otherwise only after a lease. One instance on Redis costs
9 commands per certificate: the lock (\`SET NX GET\`), the read under it (\`HMGET\`), the http-01 answer published on the
\`answers\` channel (\`PUBLISH\`), and one script for the save (\`EVAL\` running \`MGET\` of the lock and the sealed-keys marker,
\`HSET\`, \`SADD\` for a new record, \`DEL\` of the lock, \`PUBLISH\` of the record). On PostgreSQL 4 statements: the lock, the
read under it, the answer, and the save (fence, sealed-keys check, upsert, lock deleted and \`NOTIFY\` in one statement).
On Redis every instance keeps the answers it hears, so whichever instance HAProxy sends each of Pebble's three validation
requests to answers from memory; an instance that has not heard an answer within 100 ms publishes a sync (\`PUBLISH\`), then
reads the store (\`GET\`) and asks for it (\`PUBLISH\`), and the presenter stores it (\`SET\`): those are the \`PUBLISH\`es above 2
and some of the \`GET\`s (lock renewals and releases read the lock with \`GET\` in their scripts too).
On PostgreSQL the answer is read from the store by the instance that did not present it. What else grows with the instances
is the locks met held (\`SET\` above 1 on Redis).

| Store | Instances | Time to all ${certificates} served (median) | Certificates per second | Speed-up against 1 instance | Orders placed / certificates issued (each round) | Validation requests / not answered 2xx / answered 4xx (each round) | Store commands per certificate | Obtained per instance (last round) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |
${rows.join("\n")}

Redis commands per certificate, by command (from \`INFO commandstats\`, last round):

${Object.entries(results).filter(([key]) => key.startsWith("redis/")).map(([key, runs]) => `- ${key.split("/")[1]} instance(s): ${runs.at(-1)!.byCommand}`).join("\n")}
`;
writeFileSync(process.env.FLEET_RESULTS ?? join(import.meta.dir, "fleet-results.md"), markdown);
console.log(markdown);
