/**
 * The lifecycle benchmark: `renew` over 10,000 stored lineages of which none is due (time and
 * peak RSS; targets under 1 s and under 100 MiB), and `certonly` time to certificate against
 * `certbot certonly --standalone` and `lego run` on one local Pebble. Writes
 * bench/lifecycle-results.md.
 *
 *   bun run bench:lifecycle [--rounds N]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDnsServer } from "../src/dns/index.ts";
import { startPebble } from "../tests/support/pebble.ts";
import { certbot, lego, oursCertonly, timed, type BenchClient, type ClientRun } from "./lib/clients.ts";
import { median, spread } from "./lib/stats.ts";

const root = join(import.meta.dir, "..");
const argv = process.argv.slice(2);
const roundsIndex = argv.indexOf("--rounds");
const rounds = roundsIndex >= 0 ? Number(argv[roundsIndex + 1]) : 5;
const LINEAGES = 10_000;
const log = (line: string) => console.log(`[bench] ${line}`);

/** A store of `count` lineages, all renewed yesterday and due in 60 days. */
function makeStore(count: number): string {
  const dir = mkdtempSync(join(tmpdir(), "bench-store-"));
  const now = Date.now();
  const iso = (offsetDays: number) => new Date(now + offsetDays * 86_400_000).toISOString();
  for (let i = 0; i < count; i++) {
    const name = `site${i}.example.test`;
    const folder = join(dir, "certificates", name);
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "lineage.json"), JSON.stringify({
      version: 1, name, identifiers: [{ type: "dns", value: name }, { type: "dns", value: `www.${name}` }], directoryUrl: "https://acme.example.test/dir",
      allowInsecureHttp: false, challenge: "http-01", keyType: "ec256", bind: "0.0.0.0", ports: { http: 80, tls: 443, dns: 53 }, hooks: {},
    }));
    writeFileSync(join(folder, "metadata.json"), JSON.stringify({
      version: 1, serial: (i + 0x1000).toString(16).toUpperCase(), notBefore: iso(-1), notAfter: iso(89), certificateUrl: `https://acme.example.test/cert/${i}`,
      obtainedAt: iso(-1), nextRenewal: iso(59), renewalSource: "lifetime",
    }));
  }
  return dir;
}

async function renewMany(): Promise<ClientRun[]> {
  log(`writing ${LINEAGES} lineages`);
  const store = makeStore(LINEAGES);
  const runs: ClientRun[] = [];
  try {
    for (let run = 0; run <= rounds; run++) {
      const measured = await timed([join(root, "dist", "bun-acme"), "renew", "--state", store], {});
      if (run === 0) continue; // warm-up (page cache)
      runs.push(measured);
      log(`renew over ${LINEAGES} lineages, none due: ${measured.ms.toFixed(0)} ms, ${(measured.rssKb / 1024).toFixed(1)} MiB`);
    }
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
  return runs;
}

async function certonlyAgainstPeers(): Promise<Map<string, ClientRun[]>> {
  const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10054, zone: { address: "127.0.0.1", txtValues: () => [] } });
  const pebble = await startPebble({ env: { PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" }, dnsServer: "127.0.0.1:10054" });
  const clients: BenchClient[] = [oursCertonly, certbot, lego];
  const results = new Map<string, ClientRun[]>(clients.map((client) => [client.name, []]));
  const context = { directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, root };
  let counter = 0;
  const name = () => `certonly${++counter}-${Date.now().toString(36)}.bench.test`;
  try {
    for (const client of clients) await client.run(context, [name()]);
    for (let round = 1; round <= rounds; round++) {
      for (const client of clients) {
        const run = await client.run(context, [name()]);
        results.get(client.name)!.push(run);
        log(`certonly round ${round}/${rounds} ${client.name}: ${run.ms.toFixed(0)} ms, ${(run.rssKb / 1024).toFixed(1)} MiB`);
      }
    }
  } finally {
    await pebble.stop();
    dns.stop();
  }
  return results;
}

const started = performance.now();
const renewRuns = await renewMany();
const certonly = await certonlyAgainstPeers();
const seconds = (performance.now() - started) / 1000;

const range = (values: number[], format: (value: number) => string) => spread(values).map(format).join("–");
const ms = (values: number[]) => `${(median(values) / 1000).toFixed(3)} s`;
const mib = (values: number[]) => `${(median(values) / 1024).toFixed(1)} MiB`;
const renewMs = renewRuns.map((run) => run.ms);
const renewRss = renewRuns.map((run) => run.rssKb);
const ours = certonly.get(oursCertonly.name)!.map((run) => run.ms);
const lines = [
  "# Lifecycle benchmark results",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)}, ${rounds} rounds, in ${seconds.toFixed(0)} s with \`bun run bench:lifecycle\` (the compiled executable, \`dist/bun-acme\`).`,
  "",
  `## renew over ${LINEAGES.toLocaleString("en")} stored lineages, none due`,
  "",
  "Every lineage has two names and is due in 60 days (no renewalInfo to ask): renew reads each one's two small JSON files and prints one line per lineage.",
  "",
  "| Measure | Median | Spread (min–max) | Target | |",
  "| --- | ---: | ---: | ---: | --- |",
  `| Wall time, process start to exit | ${ms(renewMs)} | ${range(renewMs, (v) => `${(v / 1000).toFixed(3)} s`)} | < 1 s | ${median(renewMs) < 1000 ? "met" : "**not met**"} |`,
  `| Peak RSS | ${mib(renewRss)} | ${range(renewRss, (v) => `${(v / 1024).toFixed(1)} MiB`)} | < 100 MiB | ${median(renewRss) < 100 * 1024 ? "met" : "**not met**"} |`,
  "",
  "## certonly: one fresh single-name http-01 certificate, fresh account, P-256, instant validation",
  "",
  "Each run is a whole process: start, obtain, store, exit. Same local Pebble for all, the clients taking turns after one warm-up each.",
  "",
  "| Client | Median time | Spread (min–max) | Peak RSS (median) | bun-acme / client |",
  "| --- | ---: | ---: | ---: | ---: |",
  ...[...certonly].map(([client, runs]) => {
    const times = runs.map((run) => run.ms);
    return `| ${client} | ${ms(times)} | ${range(times, (v) => `${(v / 1000).toFixed(3)} s`)} | ${mib(runs.map((run) => run.rssKb))} | ${(median(ours) / median(times)).toFixed(2)} |`;
  }),
  "",
];
writeFileSync(join(root, "bench", "lifecycle-results.md"), lines.join("\n"));
log(`wrote bench/lifecycle-results.md (${seconds.toFixed(0)} s)`);
