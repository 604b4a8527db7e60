/**
 * The daemon's warm start: `bun-acme serve` restarted on a store that already holds its site's
 * certificate, timed from spawn to the first verified TLS handshake (a probe every millisecond,
 * as bench/caddy.ts does). One cold start obtains the certificate from Pebble; then each build
 * given is started `--starts N` times, the builds alternating start by start, on copies of that
 * store. Prints each build's median, quartiles and spread, and the CPU time its main (JavaScript)
 * thread had used when the handshake completed (/proc/PID/schedstat: on a busy machine, the work
 * on the way to serving, without the time spent waiting for a core). Where the time goes: build the daemon
 * with bench/warm-trace.patch applied (`git apply bench/warm-trace.patch`, build to another file,
 * `git checkout -- src`), then run this with `BUN_ACME_TRACE=1` and that build: each start's steps
 * are printed, in milliseconds since its process began (held in memory and written once the first
 * configuration is switched to: a write to stderr at each step cost the first one 3 ms).
 *
 *   unshare -n bash -c 'ip link set lo up; bun bench/warm.ts [--starts N] [--binary PATH]... [--sites N] [--reuse-port] [--memory]'
 *   (default: dist/bun-acme, 20 starts, 1 site; --reuse-port sets net.ipv4.tcp_migrate_req to 1 in
 *   the namespace, so that the daemon picks its reuse-port mode, the systemd unit's; --memory also
 *   reads each daemon's resident memory 0.5 s after its first handshake, split as bench/rss.ts does)
 */
import { cpSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { startDnsServer } from "../src/dns/index.ts";
import { startPebble } from "../tests/support/pebble.ts";
import { makeTempDir } from "../tests/support/temp.ts";
import { memoryOf, msUntil, probe } from "./lib/front-door.ts";
import { median, spread } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const binaries = argv.flatMap((arg, index) => (argv[index - 1] === "--binary" ? [resolve(arg)] : []));
if (binaries.length === 0) binaries.push(resolve(join(import.meta.dir, "..", "dist", "bun-acme")));
const starts = Number(option("--starts", "20"));
const sites = Number(option("--sites", "1"));
const HTTPS = 18711;
const HTTP = 18712;
const siteName = (index: number) => `s${index + 1}.warm.test`;
if (argv.includes("--reuse-port")) writeFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "1"); // this namespace's own setting

/** SIGTERM and wait (SIGKILL after 15 s). */
async function stop(child: Subprocess): Promise<void> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await child.exited;
  clearTimeout(timer);
}

const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10053, zone: { address: "127.0.0.1", txtValues: () => [] } });
const pebble = await startPebble({ config: { httpPort: HTTP, tlsPort: HTTPS } });
const root = await (await pebble.management("/roots/0")).text();
const dir = makeTempDir("bench-warm-");
const store = join(dir, "store");
mkdirSync(store);
const siteLines = Array.from({ length: sites }, (_, index) => `[[site]]\nnames = ["${siteName(index)}"]\nupstream = "http://127.0.0.1:18710"\n`).join("\n");
writeFileSync(join(dir, "serve.toml"), `directory = "${pebble.directoryUrl}"\nca = "${pebble.tlsRootFile}"\nstore = "${store}"\n\n` +
  `[listen]\nhostname = "127.0.0.1"\nhttps = ${HTTPS}\nhttp = ${HTTP}\n\n${siteLines}`);
const spawn = (binary: string) => Bun.spawn([binary, "serve", "--config", join(dir, "serve.toml")], { stdout: openSync(join(dir, "out.log"), "a"), stderr: openSync(join(dir, "err.log"), "a") });
const handshake = async () => (await probe(HTTPS, siteName(0), root, undefined)) === 1;
const results = new Map<string, number[]>(binaries.map((binary) => [binary, []]));
// Every build read once, so that each is wholly in the page cache: the kernel maps a faulting page's cached
// neighbours with it (fault-around), so a build partly evicted would show fewer file-backed pages.
for (const binary of binaries) readFileSync(binary);
const cpuTimes = new Map<string, number[]>(binaries.map((binary) => [binary, []]));
/** CPU time of the process's main thread so far, ms (/proc/PID/schedstat, nanoseconds on a CPU). */
const mainThreadCpuMs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
const memories = new Map<string, ReturnType<typeof memoryOf>[]>(binaries.map((binary) => [binary, []]));
try {
  const cold = spawn(binaries[0]!);
  await msUntil(performance.now(), async () => {
    for (let index = 0; index < sites; index++) if (!(await probe(HTTPS, siteName(index), root, undefined))) return false;
    return true;
  }, 600_000, 20);
  await stop(cold);
  const pristine = join(dir, "pristine");
  cpSync(store, pristine, { recursive: true });
  for (let round = 0; round < starts; round++) {
    const order = round % 2 === 0 ? binaries : [...binaries].reverse();
    for (const binary of order) {
      rmSync(store, { recursive: true, force: true });
      cpSync(pristine, store, { recursive: true });
      await Bun.sleep(200); // the previous server's exit settled
      const started = performance.now();
      const child = spawn(binary);
      results.get(binary)!.push(await msUntil(started, handshake, 30_000, 1));
      cpuTimes.get(binary)!.push(mainThreadCpuMs(child.pid));
      if (argv.includes("--memory")) {
        await Bun.sleep(500);
        memories.get(binary)!.push(memoryOf(child.pid));
      }
      await stop(child);
    }
  }
} finally {
  await pebble.stop();
  dns.stop();
}
const quartile = (values: number[], at: number) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) * at)]!;
for (const [binary, times] of results) {
  const [low, high] = spread(times);
  console.log(`${binary}: median ${median(times).toFixed(1)} ms, quartiles ${quartile(times, 0.25).toFixed(1)}–${quartile(times, 0.75).toFixed(1)}, spread ${low.toFixed(1)}–${high.toFixed(1)} ms (${times.length} starts)`);
}
for (const [binary, times] of cpuTimes) {
  const [low, high] = spread(times);
  console.log(`${binary}: main thread CPU at the first handshake: median ${median(times).toFixed(1)} ms, quartiles ${quartile(times, 0.25).toFixed(1)}–${quartile(times, 0.75).toFixed(1)}, spread ${low.toFixed(1)}–${high.toFixed(1)} ms`);
}
for (const [binary, samples] of memories) {
  if (samples.length === 0) continue;
  const of = (field: keyof (typeof samples)[number]) => {
    const values = samples.map((sample) => sample[field]);
    const [low, high] = spread(values);
    return `${median(values).toFixed(1)} (${low.toFixed(1)}–${high.toFixed(1)})`;
  };
  console.log(`${binary}: 0.5 s after the first handshake, MiB: RSS ${of("rssMiB")}, anonymous ${of("anonMiB")}, file-backed ${of("fileMiB")}`);
}
if (process.env.BUN_ACME_TRACE) {
  // Each start's steps (ms since its process began), one line per start: where the time goes.
  const starts = readFileSync(join(dir, "err.log"), "utf8").split(/(?=^trace \S+ (?:modules-evaluated|start|[0-9.]+ modules-evaluated)\b)/m);
  for (const start of starts.slice(1)) console.log(start.trim().split("\n").filter((line) => line.startsWith("trace ")).map((line) => line.slice(6)).join(" | "));
}
