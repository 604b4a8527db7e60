/**
 * The automatic-HTTPS benchmark: what management costs a server (requests per second and p99
 * latency of the managed HTTPS server against a plain `Bun.serve` with a fixed certificate, and
 * the same while certificates are swapped every second), the memory of a daemon managing 1,000
 * certificates, and memory across 50 renewals. Writes bench/manage-results.md.
 *
 *   bun run bench:manage [--rounds N]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSelfSignedCertificate, readCertificate, subjectAltNames } from "../src/asn1/index.ts";
import { startDnsServer } from "../src/dns/index.ts";
import { encodePem, toHex } from "../src/encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../src/jose/index.ts";
import { manage, type ManageEvent } from "../src/manage/index.ts";
import { HotTlsServer, TlsFrontServer, type SwapMode } from "../src/servers/index.ts";
import { FileCertificateStore } from "../src/store/index.ts";
import { startPebble } from "../tests/support/pebble.ts";
import { makeTempDir } from "../tests/support/temp.ts";
import { median } from "./lib/stats.ts";

const root = join(import.meta.dir, "..");
const argv = process.argv.slice(2);
const roundsIndex = argv.indexOf("--rounds");
const rounds = roundsIndex >= 0 ? Number(argv[roundsIndex + 1]) : 3;
const log = (line: string) => console.log(`[bench] ${line}`);
const SECONDS = 5;
const CONNECTIONS = 32;

/** A self-signed certificate for `name` (and its key), from the project's own DER code. */
async function selfSigned(name: string, days = 90) {
  const keyPair = await generateKeyPair("ec256");
  const now = Date.now();
  const der = await createSelfSignedCertificate({
    commonName: name, keyPair, extensions: [subjectAltNames([name], [])], notBefore: new Date(now - 86_400_000), notAfter: new Date(now + days * 86_400_000),
  });
  return { pem: encodePem("CERTIFICATE", der), keyPem: await exportPrivateKeyPem(keyPair.privateKey), der };
}

interface LoadResult { requests: number; failed: number; rps: number; p50: number; p99: number; cpuMicrosPerRequest: number }

/**
 * wrk (C, from Debian): `CONNECTIONS` keep-alive connections for `SECONDS`. It never retries; a
 * socket error or a non-2xx answer is a failure. (Bun's fetch would retry a request whose reused
 * connection closed, hiding exactly what a swap can break.)
 */
async function load(port: number): Promise<LoadResult> {
  // The server runs in this process and wrk in another: this process's CPU time per request is what serving costs,
  // a figure that holds on a machine shared with other work, where requests per second do not.
  const cpuBefore = process.cpuUsage();
  const child = Bun.spawn(["wrk", "-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-H", "Host: bench.manage.test", `https://127.0.0.1:${port}/`], { stdout: "pipe", stderr: "inherit" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const number = (pattern: RegExp) => Number(text.match(pattern)?.[1] ?? Number.NaN);
  const millis = (label: string) => {
    const match = text.match(new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)$`, "m"));
    return match ? Number(match[1]) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[match[2]!]! : Number.NaN;
  };
  const socketErrors = text.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/)?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0;
  const requests = number(/(\d+) requests in/);
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests, failed: socketErrors + (number(/Non-2xx or 3xx responses: (\d+)/) || 0), rps: number(/Requests\/sec:\s+([\d.]+)/), p50: millis("50"), p99: millis("99"),
    cpuMicrosPerRequest: (cpu.user + cpu.system) / Math.max(requests, 1),
  };
}

/** Plain Bun.serve vs HotTlsServer in each mode (what manage() serves with), steady and while swapping every second, and the node:tls front. */
async function throughput(): Promise<Record<string, LoadResult[]>> {
  const certificates = [await selfSigned("bench.manage.test"), await selfSigned("bench.manage.test")];
  const handler = () => new Response("hello\n");
  const results: Record<string, LoadResult[]> = { plain: [], relay: [], relaySwapping: [], reusePort: [], reusePortSwapping: [], front: [] };
  // With the address too: wrk sends the URL's host (127.0.0.1) as SNI, and the certificate with an address is the default.
  const served = (index: number) => [{ names: ["bench.manage.test", "127.0.0.1"], chainPem: certificates[index]!.pem, keyPem: certificates[index]!.keyPem }];
  const hotRun = async (mode: SwapMode, port: number, steady: string, swapping: string) => {
    const hot = new HotTlsServer({ hostname: "127.0.0.1", port, mode, fetch: handler });
    await hot.serve(served(0));
    results[steady]!.push(await load(port));
    let swapRunning = true;
    const swapper = (async () => {
      for (let index = 1; swapRunning; index++) {
        await Bun.sleep(1000);
        if (swapRunning) await hot.serve(served(index % 2));
      }
    })();
    results[swapping]!.push(await load(port));
    swapRunning = false;
    await swapper;
    await hot.stop();
  };
  for (let round = 0; round < rounds; round++) {
    const plain = Bun.serve({ hostname: "127.0.0.1", port: 18500, tls: { cert: certificates[0]!.pem, key: certificates[0]!.keyPem }, fetch: handler });
    results.plain!.push(await load(18500));
    await plain.stop(true);
    await hotRun("relay", 18501, "relay", "relaySwapping");
    await hotRun("reuse-port", 18507, "reusePort", "reusePortSwapping");
    const front = new TlsFrontServer({ hostname: "127.0.0.1", port: 18506, fetch: handler });
    await front.serve(served(0));
    results.front!.push(await load(18506));
    await front.stop();
    for (const [label, list] of Object.entries(results)) {
      const last = list.at(-1)!;
      log(`round ${round + 1} ${label}: ${last.rps.toFixed(0)} req/s, p99 ${last.p99.toFixed(2)} ms, ${last.failed} failed`);
    }
  }
  return results;
}

interface SwapSafety { mode: string; migrate: number; resolved: string; ok: number; failed: number; errors: Record<string, number> }

/**
 * Failed requests across swaps, counted by clients that never retry (Python's http.client: 4
 * keep-alive GET, 4 new-connection GET and 2 keep-alive POST clients; tests/support/http_load.py),
 * 10 swaps one second apart, each mode in a private network namespace with
 * net.ipv4.tcp_migrate_req 0 and 1 (needs root for unshare).
 */
async function swapSafety(): Promise<SwapSafety[]> {
  const script = join(root, "tests", "support", "swap-under-load.ts");
  const runs: SwapSafety[] = [];
  for (const mode of ["relay", "reuse-port"]) {
    for (const migrate of [0, 1]) {
      const child = Bun.spawn(["unshare", "-n", "sh", "-c", `ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=${migrate} && exec "${process.execPath}" "${script}" ${mode} 10 1000`],
        { stdout: "pipe", stderr: "inherit" });
      const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      const run = JSON.parse(text.trim().split("\n").pop()!) as { mode: string; ok: number; failed: number; errors: Record<string, number> };
      runs.push({ mode, migrate, resolved: run.mode, ok: run.ok, failed: run.failed, errors: run.errors });
      log(`swaps, ${mode}, tcp_migrate_req=${migrate}: ${run.ok} ok, ${run.failed} failed ${JSON.stringify(run.errors)}`);
    }
  }
  return runs;
}

/** A daemon (a child process running manage()) with 1,000 stored certificates: its RSS once serving. */
async function thousandCertificates(): Promise<{ rssKb: number; startMs: number }> {
  const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10056, zone: { address: "127.0.0.1", txtValues: () => [] } });
  const pebble = await startPebble({ dnsServer: "127.0.0.1:10056" });
  const storeDir = makeTempDir("bench-store-1000-");
  const store = new FileCertificateStore(storeDir);
  const now = Date.now();
  log("writing 1,000 lineages");
  for (let i = 0; i < 1000; i++) {
    const name = `site${i}.thousand.test`;
    const certificate = await selfSigned(name);
    const leaf = readCertificate(certificate.der);
    await store.save({
      config: { version: 1, name, identifiers: [{ type: "dns", value: name }], directoryUrl: pebble.directoryUrl, allowInsecureHttp: false, challenge: "http-01",
        keyType: "ec256", bind: "127.0.0.1", ports: { http: 18503, tls: 18502, dns: 53 }, hooks: {} },
      // The metadata as bun-acme writes it: what the certificate says (a lineage that disagrees is treated as damaged and obtained again).
      meta: { version: 1, serial: toHex(leaf.serialNumber).replace(/^(00)+(?=.)/, "").toUpperCase(), notBefore: leaf.notBefore.toISOString(), notAfter: leaf.notAfter.toISOString(),
        certificateUrl: "https://bench/cert", obtainedAt: new Date(now).toISOString(), nextRenewal: new Date(now + 59 * 86_400_000).toISOString(), renewalSource: "lifetime" },
      keyPem: certificate.keyPem,
      chainPem: certificate.pem,
    });
  }
  const script = join(storeDir, "daemon.ts");
  writeFileSync(script, `
import { manage } from ${JSON.stringify(join(root, "src", "manage", "index.ts"))};
import { FileCertificateStore } from ${JSON.stringify(join(root, "src", "store", "index.ts"))};
const started = performance.now();
await manage({
  certificates: Array.from({ length: 1000 }, (_, i) => ["site" + i + ".thousand.test"]),
  directoryUrl: ${JSON.stringify(pebble.directoryUrl)}, ca: ${JSON.stringify(pebble.tlsRootPem)},
  store: new FileCertificateStore(${JSON.stringify(storeDir)}), hostname: "127.0.0.1", ports: { https: 18502, http: 18503 },
  fetch: () => new Response("ok"),
});
Bun.gc(true);
console.log(JSON.stringify({ startMs: performance.now() - started, rssKb: Math.round(process.memoryUsage().rss / 1024) }));
await Bun.sleep(100_000);
`);
  const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  child.kill();
  await child.exited;
  await pebble.stop();
  dns.stop();
  return JSON.parse(new TextDecoder().decode(value).trim().split("\n")[0]!);
}

/** RSS of this process across 50 renewals of a certificate Pebble issues for 3 seconds. */
async function renewalsMemory(): Promise<number[]> {
  const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10056, zone: { address: "127.0.0.1", txtValues: () => [] } });
  const pebble = await startPebble({ dnsServer: "127.0.0.1:10056", config: { certificateValidityPeriod: 3, httpPort: 18505 } });
  const samples: number[] = [];
  const done = Promise.withResolvers<void>();
  let renewals = 0;
  const managed = await manage({
    certificates: [["renewals.manage.test"]],
    directoryUrl: pebble.directoryUrl,
    ca: pebble.tlsRootPem,
    store: new FileCertificateStore(makeTempDir("bench-renewals-")),
    hostname: "127.0.0.1",
    ports: { https: 18504, http: 18505 },
    fetch: () => new Response("ok"),
    retry: { baseDelayMs: 200, maxDelayMs: 1_000 },
    onEvent: (event: ManageEvent) => {
      if (event.type !== "renewed") return;
      renewals++;
      if (renewals % 10 === 0) {
        Bun.gc(true);
        samples.push(Math.round(process.memoryUsage().rss / 1024));
        log(`${renewals} renewals: RSS ${(samples.at(-1)! / 1024).toFixed(1)} MiB`);
      }
      if (renewals >= 50) done.resolve();
    },
  });
  await done.promise;
  await managed.stop();
  await pebble.stop();
  dns.stop();
  return samples;
}

const started = performance.now();
const speed = await throughput();
const safety = await swapSafety();
const thousand = await thousandCertificates();
log(`1,000 certificates: serving after ${thousand.startMs.toFixed(0)} ms, RSS ${(thousand.rssKb / 1024).toFixed(1)} MiB`);
const memory = await renewalsMemory();
const seconds = (performance.now() - started) / 1000;

const rate = (label: string) => median(speed[label]!.map((result) => result.rps));
const p99 = (label: string) => median(speed[label]!.map((result) => result.p99));
const failed = (label: string) => speed[label]!.reduce((sum, result) => sum + result.failed, 0);
const cost = (label: string) => (1 - rate(label) / rate("plain")) * 100;
const cpu = (label: string) => median(speed[label]!.map((result) => result.cpuMicrosPerRequest));
const cpuCost = (label: string) => (cpu(label) / cpu("plain") - 1) * 100;
const row = (label: string, what: string) =>
  `| ${what} | ${rate(label).toFixed(0)} | ${p99(label).toFixed(2)} ms | ${failed(label)} | ${label === "plain" ? "" : `${cost(label).toFixed(1)} %`} | ${cpu(label).toFixed(1)} µs | ${label === "plain" ? "" : `${cpuCost(label).toFixed(1)} %`} |`;
const lines = [
  "# Automatic HTTPS benchmark results",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)} in ${seconds.toFixed(0)} s with \`bun run bench:manage\`.`,
  "",
  `Throughput: ${rounds} rounds of ${SECONDS} s, wrk with ${CONNECTIONS} keep-alive connections (a client that never retries), a handler answering \`hello\`: the worst case for any per-request cost.`,
  "",
  "| Server | Requests per second (median) | p99 latency (median) | Failed requests (all rounds) | Cost against plain (throughput) | Server CPU per request (median) | Cost against plain (CPU) |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  row("plain", "plain `Bun.serve`, fixed certificate"),
  row("relay", "`HotTlsServer`, relay mode (manage()'s default where `tcp_migrate_req` is 0)"),
  row("relaySwapping", "relay mode, certificate swapped every second"),
  row("reusePort", "`HotTlsServer`, reuse-port mode (the default where `tcp_migrate_req` is 1)"),
  row("reusePortSwapping", "reuse-port mode, certificate swapped every second"),
  row("front", "on-demand server (`TlsFrontServer`: node:tls front, SNICallback)"),
  "",
  "Failed requests across 10 swaps one second apart, from clients that never retry (Python's http.client: 4 keep-alive GET, 4 new-connection GET, 2 keep-alive POST clients), in a private network namespace per row:",
  "",
  "| Mode | `net.ipv4.tcp_migrate_req` | Requests | Failed | Failures |",
  "| --- | ---: | ---: | ---: | --- |",
  ...safety.map((run) => `| ${run.mode} | ${run.migrate} | ${run.ok + run.failed} | ${run.failed} | ${Object.entries(run.errors).map(([kind, count]) => `${count}× ${kind}`).join("; ") || "none"} |`),
  "",
  `A daemon (\`manage()\` in its own process) with 1,000 stored certificates of one name each: serving after ${(thousand.startMs / 1000).toFixed(2)} s, RSS ${(thousand.rssKb / 1024).toFixed(1)} MiB.`,
  "",
  `RSS across 50 renewals of a 3-second Pebble certificate (after a full GC, every 10 renewals): ${memory.map((kb) => `${(kb / 1024).toFixed(1)}`).join(", ")} MiB.`,
  "",
];
writeFileSync(join(root, "bench", "manage-results.md"), lines.join("\n"));
log(`wrote bench/manage-results.md (${seconds.toFixed(0)} s)`);
process.exit(0); // pooled connections and child pipes would keep the process alive
