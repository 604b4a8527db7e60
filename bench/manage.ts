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
import { createSelfSignedCertificate, subjectAltNames } from "../src/asn1/index.ts";
import { startDnsServer } from "../src/dns/index.ts";
import { encodePem } from "../src/encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../src/jose/index.ts";
import { manage, type ManageEvent } from "../src/manage/index.ts";
import { HotTlsServer, TlsFrontServer } from "../src/servers/index.ts";
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

interface LoadResult { requests: number; failed: number; rps: number; p50: number; p99: number }

async function load(port: number, caFile: string, name: string): Promise<LoadResult> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "lib", "load.ts"), `https://127.0.0.1:${port}/`, String(SECONDS), String(CONNECTIONS), caFile, name],
    { stdout: "pipe", stderr: "inherit" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return JSON.parse(text.trim());
}

/** Plain Bun.serve vs HotTlsServer (what manage() serves with), steady and while swapping every second. */
async function throughput(): Promise<Record<string, LoadResult[]>> {
  const dir = makeTempDir("bench-manage-");
  const certificates = [await selfSigned("bench.manage.test"), await selfSigned("bench.manage.test")];
  const caFile = join(dir, "roots.pem");
  writeFileSync(caFile, certificates.map((certificate) => certificate.pem).join(""));
  const handler = () => new Response("hello\n");
  const results: Record<string, LoadResult[]> = { plain: [], managed: [], swapping: [], front: [] };
  for (let round = 0; round < rounds; round++) {
    const plain = Bun.serve({ hostname: "127.0.0.1", port: 18500, tls: { cert: certificates[0]!.pem, key: certificates[0]!.keyPem }, fetch: handler });
    results.plain!.push(await load(18500, caFile, "bench.manage.test"));
    await plain.stop(true);
    const hot = new HotTlsServer({ hostname: "127.0.0.1", port: 18501, fetch: handler });
    const served = (index: number) => [{ names: ["bench.manage.test"], chainPem: certificates[index]!.pem, keyPem: certificates[index]!.keyPem }];
    await hot.serve(served(0));
    results.managed!.push(await load(18501, caFile, "bench.manage.test"));
    let swapping = true;
    const swapper = (async () => {
      for (let index = 1; swapping; index++) {
        await Bun.sleep(1000);
        if (swapping) await hot.serve(served(index % 2));
      }
    })();
    results.swapping!.push(await load(18501, caFile, "bench.manage.test"));
    swapping = false;
    await swapper;
    await hot.stop();
    const front = new TlsFrontServer({ hostname: "127.0.0.1", port: 18506, fetch: handler });
    await front.serve(served(0));
    results.front!.push(await load(18506, caFile, "bench.manage.test"));
    await front.stop();
    for (const [label, list] of Object.entries(results)) {
      const last = list.at(-1)!;
      log(`round ${round + 1} ${label}: ${last.rps.toFixed(0)} req/s, p99 ${last.p99.toFixed(2)} ms, ${last.failed} failed`);
    }
  }
  return results;
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
    await store.save({
      config: { version: 1, name, identifiers: [{ type: "dns", value: name }], directoryUrl: pebble.directoryUrl, allowInsecureHttp: false, challenge: "http-01",
        keyType: "ec256", bind: "127.0.0.1", ports: { http: 18503, tls: 18502, dns: 53 }, hooks: {} },
      meta: { version: 1, serial: String(i + 1), notBefore: new Date(now - 86_400_000).toISOString(), notAfter: new Date(now + 89 * 86_400_000).toISOString(),
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
const thousand = await thousandCertificates();
log(`1,000 certificates: serving after ${thousand.startMs.toFixed(0)} ms, RSS ${(thousand.rssKb / 1024).toFixed(1)} MiB`);
const memory = await renewalsMemory();
const seconds = (performance.now() - started) / 1000;

const rate = (label: string) => median(speed[label]!.map((result) => result.rps));
const p99 = (label: string) => median(speed[label]!.map((result) => result.p99));
const failed = (label: string) => speed[label]!.reduce((sum, result) => sum + result.failed, 0);
const cost = (label: string) => (1 - rate(label) / rate("plain")) * 100;
const lines = [
  "# Automatic HTTPS benchmark results",
  "",
  `Run on ${new Date().toISOString().slice(0, 10)}, ${rounds} rounds of ${SECONDS} s with ${CONNECTIONS} keep-alive clients (a separate process, Bun's fetch), in ${seconds.toFixed(0)} s with \`bun run bench:manage\`.`,
  "",
  "| Server | Requests per second (median) | p99 latency (median) | Failed requests (all rounds) | Cost against plain |",
  "| --- | ---: | ---: | ---: | ---: |",
  `| plain \`Bun.serve\`, fixed certificate | ${rate("plain").toFixed(0)} | ${p99("plain").toFixed(2)} ms | ${failed("plain")} | |`,
  `| managed (\`HotTlsServer\`, what \`manage()\` serves with) | ${rate("managed").toFixed(0)} | ${p99("managed").toFixed(2)} ms | ${failed("managed")} | ${cost("managed").toFixed(1)} % (target < 5 %) |`,
  `| managed, certificate swapped every second | ${rate("swapping").toFixed(0)} | ${p99("swapping").toFixed(2)} ms | ${failed("swapping")} | ${cost("swapping").toFixed(1)} % |`,
  `| on-demand server (\`TlsFrontServer\`: node:tls front, SNICallback) | ${rate("front").toFixed(0)} | ${p99("front").toFixed(2)} ms | ${failed("front")} | ${cost("front").toFixed(1)} % |`,
  "",
  `A daemon (\`manage()\` in its own process) with 1,000 stored certificates of one name each: serving after ${(thousand.startMs / 1000).toFixed(2)} s, RSS ${(thousand.rssKb / 1024).toFixed(1)} MiB.`,
  "",
  `RSS across 50 renewals of a 3-second Pebble certificate (after a full GC, every 10 renewals): ${memory.map((kb) => `${(kb / 1024).toFixed(1)}`).join(", ")} MiB.`,
  "",
];
writeFileSync(join(root, "bench", "manage-results.md"), lines.join("\n"));
log(`wrote bench/manage-results.md (${seconds.toFixed(0)} s)`);
process.exit(0); // pooled connections and child pipes would keep the process alive
