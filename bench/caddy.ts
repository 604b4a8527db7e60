/**
 * bun-acme's daemon against Caddy 2.6.2 (Debian's package) as the front door of sites proxied to
 * the same upstream (Debian's nginx, a 1 KiB file over plain HTTP on loopback), both getting their
 * certificates from the same Pebble over http-01 (or tls-alpn-01 for Caddy, which tries both) on
 * the same ports, one at a time, in alternating order each round. Per server and round:
 * - cold start (empty store, new account) to the first site served: a verified handshake and a 200;
 * - with 200 sites, the same and the time until all 200 are served;
 * - keep-alive proxying with wrk (requests per second, p99), then RSS (VmRSS) and peak RSS (VmHWM);
 * - warm start (certificates stored) to a verified handshake, and with 200 sites to all 200 served.
 * Writes bench/caddy-results.md. Run it in a network namespace of its own (its ports are fixed):
 *
 *   unshare -n bash -c 'ip link set lo up; bun run bench:caddy [--rounds N] [--rounds-200 N]'
 *   options: --binary PATH (default dist/bun-acme), --compare PATH (a second build of bun-acme as one more
 *   contender, e.g. before a change), --skip-caddy, --no-200, --out FILE, --warm N, --reuse-port (set
 *   net.ipv4.tcp_migrate_req to 1 in the benchmark's own network namespace, as the shipped systemd unit does
 *   on the host, so that the daemon swaps in reuse-port mode instead of the relay)
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir } from "../tests/support/temp.ts";
import { caddyContender, daemonContender, memoryOf, msUntil, PORTS, probe, startFrontDoorWorld, stopChild as stop, wrk, type Contender, type WrkResult } from "./lib/front-door.ts";
import { median, spread } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const rounds = Number(option("--rounds", "5"));
const rounds200 = argv.includes("--no-200") ? 0 : Number(option("--rounds-200", "2"));
const warmStarts = Number(option("--warm", "3"));
const binary = resolve(option("--binary", join(import.meta.dir, "..", "dist", "bun-acme")));
const outFile = resolve(option("--out", join(import.meta.dir, "caddy-results.md")));
const log = (line: string) => console.log(`[bench] ${line}`);
const HTTPS = PORTS.https;
const SECONDS = 5;
/** How long a server is left without requests before its memory is read again ("settled"). */
const SETTLE_SECONDS = 10;
const CONNECTIONS = 32;
const PAGE = "/index.html";
const siteName = (index: number) => `s${index + 1}.bench.test`;


/** Served: a verified handshake and a 200 through the proxy. */
const served = async (index: number) => (await probe(HTTPS, siteName(index), issuingRoot, PAGE)) === 200;

/** Milliseconds from `started` until the first and until every site answered; each site probed until it does (8 at a time). */
async function untilAllServed(started: number, count: number, timeoutMs: number): Promise<{ firstMs: number; allMs: number }> {
  const waiting = new Set(Array.from({ length: count }, (_, index) => index));
  let firstMs = Number.NaN;
  while (waiting.size > 0) {
    const batch = [...waiting];
    for (let at = 0; at < batch.length; at += 8) {
      await Promise.all(batch.slice(at, at + 8).map(async (index) => {
        if (!(await served(index))) return;
        waiting.delete(index);
        if (Number.isNaN(firstMs)) firstMs = performance.now() - started;
      }));
    }
    if (performance.now() - started > timeoutMs) throw new Error(`${waiting.size} of ${count} sites not served within ${timeoutMs} ms`);
    if (waiting.size > 0) await Bun.sleep(count > 1 ? 20 : 5);
  }
  return { firstMs, allMs: performance.now() - started };
}

interface Round {
  coldFirstMs: number;
  coldAllMs: number;
  load: WrkResult;
  rssMiB: number;
  peakMiB: number;
  warmHandshakeMs: number;
  warmAllMs: number;
  /** RSS once a warm start serves every site (before any load). */
  warmRssMiB: number;
  /** RSS and its anonymous part after the load and SETTLE_SECONDS without a request. */
  settledRssMiB: number;
  settledAnonMiB: number;
  /** RSS SETTLE_SECONDS after the last warm start. */
  warmSettledRssMiB: number;
  /** The anonymous part of the RSS right after the load. */
  anonMiB: number;
}

/** One round of one contender with `count` sites, in a fresh folder (empty store). */
async function round(contender: Contender, count: number): Promise<Round> {
  const dir = makeTempDir("bench-caddy-");
  mkdirSync(join(dir, "store"));
  contender.configure(dir, Array.from({ length: count }, (_, index) => siteName(index)));
  const timeoutMs = count > 1 ? 600_000 : 60_000;
  let started = performance.now();
  let child = contender.spawn(dir);
  try {
    const cold = await untilAllServed(started, count, timeoutMs);
    const load = await wrk(dir, new URL(`https://${siteName(0)}:${HTTPS}${PAGE}`), SECONDS, CONNECTIONS);
    const memory = memoryOf(child.pid);
    await Bun.sleep(SETTLE_SECONDS * 1000);
    const settled = memoryOf(child.pid);
    await stop(child);
    const handshakes: number[] = [];
    const alls: number[] = [];
    const warmRss: number[] = [];
    for (let warm = 0; warm < warmStarts; warm++) {
      started = performance.now();
      child = contender.spawn(dir);
      handshakes.push(await msUntil(started, async () => (await probe(HTTPS, siteName(0), issuingRoot, undefined)) === 1, 30_000, 1));
      if (count > 1) alls.push((await untilAllServed(started, count, 60_000)).allMs);
      await Bun.sleep(500); // whatever follows the start (a swap, a retired backend stopping) is done
      warmRss.push(memoryOf(child.pid).rssMiB);
      if (warm < warmStarts - 1) await stop(child);
    }
    await Bun.sleep(SETTLE_SECONDS * 1000);
    const warmSettled = memoryOf(child.pid);
    await stop(child);
    return { coldFirstMs: cold.firstMs, coldAllMs: cold.allMs, load, rssMiB: memory.rssMiB, peakMiB: memory.peakMiB, warmHandshakeMs: median(handshakes), warmAllMs: median(alls), warmRssMiB: median(warmRss),
      settledRssMiB: settled.rssMiB, settledAnonMiB: settled.anonMiB, warmSettledRssMiB: warmSettled.rssMiB, anonMiB: memory.anonMiB };
  } catch (error) {
    const tail = (file: string) => readFileSync(join(dir, file), "utf8").split("\n").slice(-15).join("\n");
    throw new Error(`${contender.label}, ${count} site(s): ${(error as Error).message}\n${tail("out.log")}\n${tail("err.log")}`);
  } finally {
    if (child.exitCode === null) await stop(child);
  }
}

const reusePort = argv.includes("--reuse-port");
if (reusePort) {
  if (!process.env.BENCH_OWN_NETNS) throw new Error("--reuse-port changes a kernel setting: only in the network namespace bench/run makes (as root)");
  writeFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "1\n");
}
const world = await startFrontDoorWorld("bench-caddy-www-");
const issuingRoot = world.issuingRoot;
const daemonAt = (executable: string, label: string) => daemonContender(world, executable, label);
const bunAcme = daemonAt(binary, "bun-acme serve");
const caddy = caddyContender(world);
const compared = argv.includes("--compare") ? [daemonAt(resolve(option("--compare", "")), `bun-acme serve (${option("--compare", "")})`)] : [];
const contenders = [bunAcme, ...compared, ...(argv.includes("--skip-caddy") ? [] : [caddy])];
const results = new Map<string, Round[]>();
const failures: string[] = [];
const began = performance.now();
try {
  for (const [count, times] of [[1, rounds], [200, rounds200]] as const) {
    for (let index = 0; index < times; index++) {
      const order = index % 2 === 0 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        let result: Round;
        try {
          result = await round(contender, count);
        } catch (error) { // one failed round (e.g. a server that did not serve every site in time) is reported, not the end of the run
          failures.push(`${contender.label}, ${count} site(s), round ${index + 1}: ${(error as Error).message.split("\n")[0]}`);
          log(`FAILED ${failures.at(-1)}`);
          continue;
        }
        const key = `${contender.label}|${count}`;
        results.set(key, [...(results.get(key) ?? []), result]);
        log(`${count} site(s), round ${index + 1}, ${contender.label}: cold first ${result.coldFirstMs.toFixed(0)} ms, all ${result.coldAllMs.toFixed(0)} ms; ` +
          `${result.load.rps.toFixed(0)} req/s, p99 ${result.load.p99Ms.toFixed(2)} ms, ${result.load.errors} errors; RSS ${result.rssMiB.toFixed(1)} MiB, peak ${result.peakMiB.toFixed(1)} MiB; ` +
          `settled ${result.settledRssMiB.toFixed(1)} MiB (anonymous ${result.settledAnonMiB.toFixed(1)}); ` +
          `warm handshake ${result.warmHandshakeMs.toFixed(1)} ms, warm RSS ${result.warmRssMiB.toFixed(1)} MiB, ${SETTLE_SECONDS} s later ${result.warmSettledRssMiB.toFixed(1)} MiB${count > 1 ? `, warm all ${result.warmAllMs.toFixed(0)} ms` : ""}`);
      }
    }
  }
} finally { // also when a round fails: nothing left running
  await world.stop();
}

/** "median (min–max)" of one field over the rounds. */
function cell(rows: readonly Round[] | undefined, pick: (round: Round) => number, digits: number): string {
  if (!rows || rows.length === 0) return "–";
  const values = rows.map(pick);
  const [low, high] = spread(values);
  return `${median(values).toFixed(digits)} (${low.toFixed(digits)}–${high.toFixed(digits)})`;
}

const metrics: Array<[string, (round: Round) => number, number, boolean]> = [
  ["Cold start (empty store) to the first site served, s", (r) => r.coldFirstMs / 1000, 3, false],
  ["Cold start to all sites served, s", (r) => r.coldAllMs / 1000, 2, true],
  ["Warm start (stored) to a verified handshake, s", (r) => r.warmHandshakeMs / 1000, 3, false],
  ["Warm start to all sites served, s", (r) => r.warmAllMs / 1000, 3, true],
  ["RSS after a warm start, before load, MiB", (r) => r.warmRssMiB, 1, false],
  [`RSS ${SETTLE_SECONDS} s after the last warm start, MiB`, (r) => r.warmSettledRssMiB, 1, false],
  ["RSS after the cold start and load, MiB", (r) => r.rssMiB, 1, false],
  ["of which anonymous (heaps, JIT code), MiB", (r) => r.anonMiB, 1, false],
  [`RSS after the load and ${SETTLE_SECONDS} s without a request, MiB`, (r) => r.settledRssMiB, 1, false],
  ["of which anonymous, MiB", (r) => r.settledAnonMiB, 1, false],
  ["Peak RSS (VmHWM), MiB", (r) => r.peakMiB, 1, false],
  ["Keep-alive proxy, requests/s", (r) => r.load.rps, 0, false],
  ["Keep-alive proxy, p99 latency, ms", (r) => r.load.p99Ms, 2, false],
  ["wrk errors (socket errors and non-2xx), median", (r) => r.load.errors, 0, false],
];
const table = (count: number) => [
  `| ${count === 1 ? "One site" : `${count} sites`} | ${contenders.map((contender) => contender.label).join(" | ")} |`,
  `| --- |${contenders.map(() => " ---: |").join("")}`,
  ...metrics.filter(([, , , manyOnly]) => count > 1 || !manyOnly)
    .map(([label, pick, digits]) => `| ${label} | ${contenders.map((contender) => cell(results.get(`${contender.label}|${count}`), pick, digits)).join(" | ")} |`),
].join("\n");
const report = `# Front door: bun-acme against Caddy

Run on ${new Date().toISOString().slice(0, 10)} with \`bun run bench:caddy\` (${rounds} rounds with one site, ${rounds200} with 200 sites,
the servers alternating, in ${((performance.now() - began) / 1000).toFixed(0)} s; ${binary.endsWith("dist/bun-acme") ? "dist/bun-acme" : binary} against Debian's caddy 2.6.2).
Both servers get their certificates from the same Pebble (no validation sleep, no authorization reuse) and proxy to the
same nginx serving a 1 KiB file over plain HTTP on loopback. Medians, with the smallest and largest round in brackets.
Each round starts from an empty store with a new account. Served: a new connection verifies the certificate against
Pebble's root (node:tls, SNI the site's name) and gets a 200 through the proxy; with 200 sites every site is probed,
8 at a time, until it is. Warm start: the server restarted on its stored certificates, ${warmStarts} times per round (median),
timed from spawn to a verified handshake; RSS 0.5 s after each, and ${SETTLE_SECONDS} s after the last. Load: wrk, 2 threads, ${CONNECTIONS}
keep-alive connections, ${SECONDS} s, then RSS (VmRSS), its anonymous part (RssAnon; the rest is file-backed: the executable's
pages as far as they were run) and peak RSS (VmHWM) from /proc, and again after ${SETTLE_SECONDS} s without a request. The machine has 2 cores shared with other work: compare within a row, and mind the spread.
Caddy uses its defaults (HTTP/3 listener, its issuance rate limiter); bun-acme its defaults, ${reusePort
  ? "with net.ipv4.tcp_migrate_req set to 1 in the benchmark's network namespace as the shipped systemd unit sets it (the reuse-port swap mode)"
  : "with net.ipv4.tcp_migrate_req at 0 in the benchmark's network namespace (the relay swap mode; the shipped systemd unit sets it to 1, for the reuse-port mode: `--reuse-port`)"}.

${table(1)}
${rounds200 > 0 ? `\n${table(200)}\n` : ""}${failures.length ? `\nRounds that failed (left out of the medians):\n${failures.map((failure) => `- ${failure}`).join("\n")}\n` : ""}`;
writeFileSync(outFile, report);
log(`wrote ${outFile}`);
process.exit(0);
