/**
 * The benchmark: bun-acme against certbot, lego, uacme and node's acme-client on one local
 * Pebble, plus scale, concurrency and start-up figures. Run it with `bun run bench` (bench/run
 * installs the peers first). Writes bench/results.md and bench/chart.svg, and the summary table
 * into docs/benchmarks.md between its bench markers.
 *
 *   bun run bench [--rounds N] [--quick]
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDnsServer } from "../src/dns/index.ts";
import { LineReader } from "../tests/support/lines.ts";
import { startPebble, type Pebble } from "../tests/support/pebble.ts";
import { acmeClient, certbot, lego, ours, uacme, type BenchClient, type BenchContext } from "./lib/clients.ts";
import { renderChart } from "./lib/chart.ts";
import { median, spread, type Sample } from "./lib/stats.ts";

const root = join(import.meta.dir, "..");
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const roundsIndex = argv.indexOf("--rounds");
const rounds = roundsIndex >= 0 ? Number(argv[roundsIndex + 1]) : quick ? 2 : 5;
const log = (line: string) => console.log(`[bench] ${line}`);

const compiled = ours("bun-acme (compiled)", (r) => [join(r, "dist", "bun-acme")]);
const fromSource = ours("bun-acme (bun run)", (r) => [process.execPath, "run", join(r, "src", "main.ts")]);
const clients: BenchClient[] = [compiled, fromSource, certbot, lego, uacme, acmeClient];

// Pebble sends every validation lookup to this DNS server, which answers 127.0.0.1 for any name.
const BENCH_DNS_PORT = 10054;
const dns = await startDnsServer({ hostname: "127.0.0.1", port: BENCH_DNS_PORT, zone: { address: "127.0.0.1", txtValues: () => [] } });

const PEBBLE_FAST = { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };
const PEBBLE_DELAYED = { PEBBLE_VA_NOSLEEP: "", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };

/**
 * Counts the requests Pebble handled during `work`, from Pebble's own log (independent of the
 * client): every request is logged as "<METHOD> <path> -> calling handler()". A `GET /nonce-plz`
 * sentinel, which no client sends, marks the end of each window.
 */
async function countRequests<T>(pebble: Pebble, work: () => Promise<T>): Promise<{ value: T; requests: number }> {
  const output: LineReader = pebble.output;
  const from = output.count;
  const value = await work();
  const sentinelFrom = output.count;
  await fetch(pebble.directoryUrl.replace(/\/dir$/, "/nonce-plz"), { tls: { ca: pebble.tlsRootPem } });
  const sentinel = await output.waitFor((line) => line.includes("GET /nonce-plz -> calling handler()"), 10_000, sentinelFrom);
  const window = output.linesFrom(from);
  const end = window.lastIndexOf(sentinel);
  const requests = window.slice(0, end).filter((line) => line.includes("-> calling handler()")).length;
  return { value, requests };
}

let nameCounter = 0;
const freshName = (tag: string) => `${tag}${++nameCounter}-${Date.now().toString(36)}.bench.test`;

async function compareClients(pebbleEnv: Record<string, string>, roundCount: number, label: string): Promise<Map<string, Sample[]>> {
  const pebble = await startPebble({ env: pebbleEnv, dnsServer: `127.0.0.1:${BENCH_DNS_PORT}` });
  const context: BenchContext = { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, root };
  const results = new Map<string, Sample[]>(clients.map((client) => [client.name, []]));
  try {
    // One warm-up run each (page cache, Pebble's first TLS handshakes), not recorded.
    for (const client of clients) await client.run(context, [freshName("warm")]);
    for (let round = 1; round <= roundCount; round++) {
      for (const client of clients) {
        const { value, requests } = await countRequests(pebble, () => once(`${label} ${client.name}`, () => client.run(context, [freshName("single")])));
        results.get(client.name)!.push({ ms: value.ms, rssKb: value.rssKb, requests, waitingPolls: value.waitingPolls });
        log(`${label} round ${round}/${roundCount} ${client.name}: ${value.ms.toFixed(0)} ms, ${requests} requests, ${(value.rssKb / 1024).toFixed(1)} MiB`);
      }
    }
  } finally {
    await pebble.stop();
  }
  return results;
}

interface ScaleRow {
  names: number;
  ms: number[];
  requests: number[];
  /** Per run: requests minus the polls bun-acme reports as forced by Pebble's processing. */
  unforced: number[];
}

async function scale(sizes: readonly number[], runs: number): Promise<ScaleRow[]> {
  const pebble = await startPebble({ env: PEBBLE_FAST, dnsServer: `127.0.0.1:${BENCH_DNS_PORT}` });
  const context: BenchContext = { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, root };
  const rows: ScaleRow[] = [];
  try {
    await compiled.run(context, [freshName("warm")]);
    for (const size of sizes) {
      const row: ScaleRow = { names: size, ms: [], requests: [], unforced: [] };
      for (let run = 0; run < runs; run++) {
        const tag = freshName("scale");
        const domains = Array.from({ length: size }, (_, i) => `n${i}.${tag}`);
        const { value, requests } = await countRequests(pebble, () => compiled.run(context, domains));
        row.ms.push(value.ms);
        row.requests.push(requests);
        row.unforced.push(requests - (value.waitingPolls ?? 0));
        log(`scale ${size} names: ${value.ms.toFixed(0)} ms, ${requests} requests (${value.waitingPolls} forced polls)`);
      }
      rows.push(row);
    }
  } finally {
    await pebble.stop();
  }
  return rows;
}

/** Runs a measuring script that prints one JSON line; killed after `limitMs` (a stalled Pebble). */
async function runJson(command: string[], env: Record<string, string> = {}, limitMs = 240_000): Promise<{ ms: number; requests?: number }> {
  const child = Bun.spawn(command, { env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), limitMs);
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`${command.slice(0, 3).join(" ")} failed${child.signalCode ? ` (killed after ${limitMs / 1000} s)` : ""}: ${stderr.slice(0, 2000)}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/** Anything that went wrong and was retried, for the results file. */
const incidents: string[] = [];

/** Runs a measurement; a failure is noted and the measurement run once more. */
async function once<T>(what: string, measure: () => Promise<T>): Promise<T> {
  try {
    return await measure();
  } catch (error) {
    const text = `${what} failed and was run again: ${(error as Error).message.split("\n").find((line) => /Error|failed/.test(line)) ?? (error as Error).message}`;
    incidents.push(text);
    log(text);
    return measure();
  }
}

/**
 * 50 certificates at once and one after another, bun-acme (library) and acme-client. Each
 * measurement gets a fresh Pebble: Pebble 2.4.0 sometimes stops answering POSTs under 50
 * concurrent orders (seen here: GET /dir still answers, newAccount and newOrder hang), so a
 * failed measurement is noted and run again on a new Pebble.
 */
async function concurrency(count: number): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  const measure = async (label: string, command: (pebble: Pebble) => string[], env: (pebble: Pebble) => Record<string, string>) => {
    const attempt = async () => {
      const pebble = await startPebble({ env: PEBBLE_FAST, dnsServer: `127.0.0.1:${BENCH_DNS_PORT}` });
      try {
        // Warm the fresh Pebble up with one issuance, the same for every client measured.
        await compiled.run({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, root }, [freshName("warm")]);
        return await runJson(command(pebble), env(pebble));
      } finally {
        await pebble.stop();
      }
    };
    const { ms } = await once(label, attempt);
    result[label] = ms;
    log(`${count} certificates, ${label}: ${ms.toFixed(0)} ms`);
  };
  for (const mode of ["parallel", "sequential"] as const) {
    await measure(`ours ${mode}`, (pebble) => [process.execPath, "run", join(root, "bench", "concurrent.ts"), pebble.directoryUrl, pebble.tlsRootFile, mode,
      String(count), freshName(mode).split(".")[0]!], () => ({}));
    await measure(`acme-client ${mode}`, (pebble) => ["node", join(root, "bench", "peers", "acme-client.mjs"), pebble.directoryUrl, mode, String(count),
      freshName(`${mode}x`).split(".")[0]!], (pebble) => ({ NODE_EXTRA_CA_CERTS: pebble.tlsRootFile }));
  }
  return result;
}

/** Start to first request: a local listener stands in for the directory and notes when the request lands. */
async function startup(command: string[], runs: number): Promise<{ ms: number[]; rssKb: number[] }> {
  const ms: number[] = [];
  const rssKb: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    const arrived = Promise.withResolvers<number>();
    const listener = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => (arrived.resolve(performance.now()), new Response("down", { status: 404 })) });
    const started = performance.now();
    const child = Bun.spawn([...command, "http01", "--dir", `http://127.0.0.1:${listener.port}/dir`, "--allow-insecure-http", "--record", "127.0.0.1",
      "--domain", "startup.bench.test", "--bind", "127.0.0.1", "--dns-port", "10055", "--quiet"], { stdout: "ignore", stderr: "ignore" });
    const at = await arrived.promise;
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0);
    child.kill();
    await child.exited;
    await listener.stop(true);
    if (run === 0) continue; // warm-up
    ms.push(at - started);
    rssKb.push(rss);
  }
  return { ms, rssKb };
}

// ---- run everything ----
const started = performance.now();
log(`rounds: ${rounds}${quick ? " (quick)" : ""}`);
const fast = await compareClients(PEBBLE_FAST, rounds, "instant validation");
const delayed = await compareClients(PEBBLE_DELAYED, quick ? 1 : Math.max(2, Math.ceil(rounds / 2)), "default validation delay");
const scaleRows = await scale(quick ? [1, 10, 50] : [1, 10, 50, 100], quick ? 1 : 3);
const concurrent = await concurrency(50);
const startCompiled = await startup([join(root, "dist", "bun-acme")], 5);
const startSource = await startup([process.execPath, "run", join(root, "src", "main.ts")], 5);
dns.stop();
const totalSeconds = (performance.now() - started) / 1000;

// ---- report ----
const mib = (kb: number) => (kb / 1024).toFixed(1);
const seconds = (ms: number) => (ms / 1000).toFixed(ms < 1000 ? 3 : 2);
const peerNames = clients.filter((client) => !client.name.startsWith("bun-acme")).map((client) => client.name);

function clientTable(results: Map<string, Sample[]>): { table: string; fastestPeer: string; ratio: number } {
  const ourMedian = median(results.get(compiled.name)!.map((s) => s.ms));
  const lines = [
    "| Client | Median time to certificate | Spread (min–max) | Requests to the CA (median) | Peak RSS (median) | bun-acme (compiled) / client |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [name, samples] of results) {
    const times = samples.map((s) => s.ms);
    const [min, max] = spread(times);
    lines.push(`| ${name} | ${seconds(median(times))} s | ${seconds(min)}–${seconds(max)} s | ${median(samples.map((s) => s.requests))} | ${
      mib(median(samples.map((s) => s.rssKb)))
    } MiB | ${(ourMedian / median(times)).toFixed(2)} |`);
  }
  const fastestPeer = peerNames.reduce((best, name) => (median(results.get(name)!.map((s) => s.ms)) < median(results.get(best)!.map((s) => s.ms)) ? name : best));
  return { table: lines.join("\n"), fastestPeer, ratio: ourMedian / median(results.get(fastestPeer)!.map((s) => s.ms)) };
}

const fastTable = clientTable(fast);
const delayedTable = clientTable(delayed);
const scaleOne = median(scaleRows[0]!.ms);
const scaleLast = scaleRows.at(-1)!;
const scaleRatio = median(scaleLast.ms) / scaleOne;
const scaleTable = [
  "| Names in one certificate | Median time | Time / time for 1 name | Requests (median, from Pebble's log) | Of which polls forced by Pebble's processing | Rest | 6 + 3n |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...scaleRows.map((row) => {
    const requests = median(row.requests);
    const rest = median(row.unforced);
    return `| ${row.names} | ${seconds(median(row.ms))} s | ${(median(row.ms) / scaleOne).toFixed(2)} | ${requests} | ${requests - rest} | ${rest} | ${6 + 3 * row.names} |`;
  }),
].join("\n");
const speedup = concurrent["ours sequential"]! / concurrent["ours parallel"]!;
const concurrencyTable = [
  "| 50 certificates from one process | All at once (Promise.all) | One after another | Speed-up | Certificates per second (at once) |",
  "| --- | ---: | ---: | ---: | ---: |",
  `| bun-acme (library) | ${seconds(concurrent["ours parallel"]!)} s | ${seconds(concurrent["ours sequential"]!)} s | ${speedup.toFixed(1)}× | ${(50000 / concurrent["ours parallel"]!).toFixed(1)} |`,
  `| acme-client (node) | ${seconds(concurrent["acme-client parallel"]!)} s | ${seconds(concurrent["acme-client sequential"]!)} s | ${
    (concurrent["acme-client sequential"]! / concurrent["acme-client parallel"]!).toFixed(1)
  }× | ${(50000 / concurrent["acme-client parallel"]!).toFixed(1)} |`,
].join("\n");
const startupTable = [
  "| Start-up | Start to first request (median) | RSS then (median) |",
  "| --- | ---: | ---: |",
  `| dist/bun-acme (compiled) | ${median(startCompiled.ms).toFixed(0)} ms | ${mib(median(startCompiled.rssKb))} MiB |`,
  `| bun run src/main.ts | ${median(startSource.ms).toFixed(0)} ms | ${mib(median(startSource.rssKb))} MiB |`,
].join("\n");
const oneNameRequests = median(fast.get(compiled.name)!.map((s) => s.requests));
const oneNameForced = median(fast.get(compiled.name)!.map((s) => s.waitingPolls ?? 0));
const requestsMet = scaleRows.every((row) => row.unforced.every((rest) => rest <= 6 + 3 * row.names));
const verdict = (ok: boolean) => (ok ? "met" : "**not met**");
const targetsTable = [
  "| Target | Measured | |",
  "| --- | --- | --- |",
  `| Median time for one name ≤ 1/3 of the fastest peer's (${fastTable.fastestPeer}) | ${fastTable.ratio.toFixed(2)} | ${verdict(fastTable.ratio <= 1 / 3)} |`,
  `| Requests for n names ≤ 6 + 3n plus polls Pebble's processing forces | n = 1: ${oneNameRequests} (of which ${oneNameForced} forced polls); every run of the scale table within 6 + 3n after forced polls: ${
    requestsMet ? "yes" : "no"
  } | ${verdict(requestsMet)} |`,
  `| Time for ${scaleLast.names} names < 3 × time for 1 name | ${scaleRatio.toFixed(2)} × | ${verdict(scaleRatio < 3)} |`,
  `| 50 concurrent certificates ≥ 5 × faster than one after another | ${speedup.toFixed(1)} × | ${verdict(speedup >= 5)} |`,
].join("\n");

const machine = `${readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU"}, ${
  readFileSync("/proc/cpuinfo", "utf8").match(/^processor/gm)?.length ?? "?"
} cores`;
const summary = `Single name, http-01, fresh account and P-256 keys per run, Pebble with instant validation, ${rounds} rounds in alternation:

${fastTable.table}`;
const results = `# Benchmark results

Run on ${new Date().toISOString().slice(0, 10)}, ${machine}, Bun ${Bun.version}, in ${totalSeconds.toFixed(0)} s with \`bun run bench${
  argv.length ? " " + argv.join(" ") : ""
}\`.
Each client issues one fresh single-name http-01 certificate per run, with a fresh account and P-256 keys, from one local
Pebble 2.4.0 (\`PEBBLE_WFE_NONCEREJECT=0\`, \`PEBBLE_AUTHZREUSE=0\`); the clients take turns, round after round, after one
warm-up run each. Time to certificate is from process start to the certificate on disk (for bun-acme, to its "Certificate
... written" line; it then goes on serving, which is not counted). Requests are counted from Pebble's own log, not by the
clients. Peak RSS is GNU time's maximum resident set size.

![chart](chart.svg)

## Targets

${targetsTable}

## Instant validation (\`PEBBLE_VA_NOSLEEP=1\`)

${fastTable.table}

## Pebble's default validation delay

${delayedTable.table}

## Many names in one certificate (bun-acme compiled, instant validation)

${scaleTable}

"Polls forced by Pebble's processing" are the authorization and order polls that found the resource still pending or
processing, as bun-acme reports them; the rest are the requests the protocol needs: 6 + 3n (directory, nonce, account,
order, finalize, certificate, and per name the authorization, the challenge answer and one poll).

## Concurrency (instant validation)

${concurrencyTable}

## Start-up

${startupTable}
${incidents.length ? `\n## Incidents during this run\n\n${incidents.map((line) => `- ${line}`).join("\n")}\n` : ""}`;
writeFileSync(join(root, "bench", "results.md"), results);
writeFileSync(join(root, "bench", "chart.svg"), renderChart(
  `Median time to certificate, one name (${rounds} rounds; instant validation vs Pebble's default delay)`,
  clients.map((client) => ({
    label: client.name,
    values: [median(fast.get(client.name)!.map((s) => s.ms)), median(delayed.get(client.name)!.map((s) => s.ms))],
  })),
  ["instant validation", "default validation delay"],
));
const summaryPath = join(root, "docs", "benchmarks.md");
const page = readFileSync(summaryPath, "utf8");
const marked = /<!-- bench:start -->[\s\S]*<!-- bench:end -->/;
if (marked.test(page)) {
  writeFileSync(summaryPath, page.replace(marked, `<!-- bench:start -->\n${summary}\n\n${targetsTable}\n<!-- bench:end -->`));
}
log(`wrote bench/results.md, bench/chart.svg and the summary in docs/benchmarks.md in ${totalSeconds.toFixed(0)} s`);
console.log(`\n${targetsTable}`);
