/**
 * Where the daemon's resident memory goes (issue 22): VmRSS and VmHWM from /proc/PID/status, split
 * into anonymous memory (RssAnon: heaps, JIT code, stacks) and file-backed pages (RssFile: the
 * executable's own code and data as it is touched, shared with every other process running it and
 * reclaimable by the kernel), for
 * - compiled Bun programs built the way dist/bun-acme is: one printing a line, one with a
 *   `Bun.serve` with TLS, with two, with one and a plain HTTP `Bun.serve`, with one and a TCP listener;
 * - `bun-acme serve` with one site proxied to nginx, after a warm start, after wrk load, and after
 *   it has then been idle for a while; and Caddy 2.6.2 (Debian) the same way, for comparison.
 * Prints a Markdown table. Run it in a network namespace of its own (its ports are fixed):
 *
 *   bun run bench:rss [--binary PATH] [--env NAME=VALUE ...] [--idle SECONDS] [--skip-caddy] [--skip-micro] [--out FILE]
 *   (as root it makes the namespace itself; otherwise: unshare -n bash -c 'ip link set lo up; bun bench/rss.ts ...')
 * --env sets a variable for the daemon only (e.g. BUN_JSC_useDFGJIT=0); --out defaults to bench/rss-results.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir } from "../tests/support/temp.ts";
import { caddyContender, daemonContender, memoryOf as memoryInMiB, msUntil, PORTS, probe, startFrontDoorWorld, stopChild as stop, wrk, type Contender } from "./lib/front-door.ts";

const argv = process.argv.slice(2);
const option = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const binary = resolve(option("--binary", join(import.meta.dir, "..", "dist", "bun-acme")));
const idleSeconds = Number(option("--idle", "10"));
const outFile = resolve(option("--out", join(import.meta.dir, "rss-results.md")));
const extraEnv = Object.fromEntries(argv.flatMap((arg, index) => (argv[index - 1] === "--env" ? [arg.split("=", 2) as [string, string]] : [])));
const HTTPS = PORTS.https;
const NAME = "s1.bench.test";

/** Resident memory of `pid`, MiB. */
interface Memory { rss: number; hwm: number; anon: number; file: number }

function memoryOf(pid: number): Memory {
  const { rssMiB, peakMiB, anonMiB, fileMiB } = memoryInMiB(pid);
  return { rss: rssMiB, hwm: peakMiB, anon: anonMiB, file: fileMiB };
}

/** CPU time used by `pid` so far (user + system), ms. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

const rows: Array<[string, Memory]> = [];
const record = (label: string, memory: Memory, pid?: number) => {
  if (pid !== undefined && process.env.RSS_SMAPS_DIR) writeFileSync(join(process.env.RSS_SMAPS_DIR, `${rows.length}.smaps`), readFileSync(`/proc/${pid}/smaps`));
  rows.push([label, memory]);
  console.log(`[rss] ${label}: RSS ${memory.rss.toFixed(1)}, peak ${memory.hwm.toFixed(1)}, anonymous ${memory.anon.toFixed(1)}, file-backed ${memory.file.toFixed(1)} MiB`);
};

/** Compiled programs as small as can be, built like dist/bun-acme (`--compile --minify --bytecode`). */
async function micro(): Promise<void> {
  const dir = makeTempDir("bench-rss-");
  const tls = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=a.test", "-days", "3"], { stderr: "ignore" });
  if (tls.exitCode !== 0) throw new Error("openssl could not make a certificate");
  const program = `const cert = await Bun.file(${JSON.stringify(join(dir, "cert.pem"))}).text();
const key = await Bun.file(${JSON.stringify(join(dir, "key.pem"))}).text();
const env = process.env;
for (let i = 0; i < Number(env.TLS ?? 0); i++) Bun.serve({ hostname: "127.0.0.1", port: 0, tls: [{ cert, key }], fetch: () => new Response("x") });
if (env.PLAIN) Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("x") });
if (env.LISTEN) Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
console.log("ready");
setInterval(() => {}, 1 << 30);
`;
  writeFileSync(join(dir, "program.ts"), program);
  const built = Bun.spawnSync(["bun", "build", "--compile", "--minify", "--bytecode", "--format=esm", join(dir, "program.ts"), "--outfile", join(dir, "program")], { stdout: "ignore" });
  if (built.exitCode !== 0) throw new Error(`bun build failed: ${built.stderr}`);
  const cases: Array<[string, Record<string, string>]> = [
    ["compiled program printing one line", {}],
    ["compiled, one Bun.serve with TLS", { TLS: "1" }],
    ["compiled, two Bun.serve with TLS", { TLS: "2" }],
    ["compiled, Bun.serve with TLS and a plain HTTP Bun.serve", { TLS: "1", PLAIN: "1" }],
    ["compiled, Bun.serve with TLS, plain Bun.serve and Bun.listen (the daemon's three listeners)", { TLS: "1", PLAIN: "1", LISTEN: "1" }],
  ];
  for (const [label, env] of cases) {
    const child = Bun.spawn([join(dir, "program")], { env: { ...process.env, ...env }, stdout: "pipe" });
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    await Bun.sleep(300);
    record(label, memoryOf(child.pid), child.pid);
    await stop(child);
  }
}

/** Cold start (to store the certificate), then a warm start measured before load, after load, and after being idle. */
async function frontDoor(server: Contender): Promise<void> {
  const dir = makeTempDir("bench-rss-door-");
  mkdirSync(join(dir, "store"));
  server.configure(dir, [NAME]);
  const servedOnce = async () => (await probe(HTTPS, NAME, issuingRoot, "/index.html")) === 200;
  let child = server.spawn(dir);
  await msUntil(performance.now(), servedOnce, 60_000, 20);
  await stop(child);
  child = server.spawn(dir);
  try {
    await msUntil(performance.now(), servedOnce, 30_000, 5);
    await Bun.sleep(500);
    record(`${server.label}, warm start, one site`, memoryOf(child.pid), child.pid);
    const before = await msUntil(performance.now(), servedOnce, 30_000, 5); // a new connection and a request, pages in place
    await Bun.sleep(idleSeconds * 1000);
    record(`${server.label}, then idle ${idleSeconds} s`, memoryOf(child.pid), child.pid);
    const afterIdle = await msUntil(performance.now(), servedOnce, 30_000, 5);
    record(`${server.label}, then one request (${afterIdle.toFixed(1)} ms; ${before.toFixed(1)} ms before the idle time)`, memoryOf(child.pid), child.pid);
    const cpuBefore = cpuMsOf(child.pid);
    const load = await wrk(dir, new URL(`https://${NAME}:${HTTPS}/index.html`), 5, 32);
    const after = memoryOf(child.pid);
    // CPU per request: what the 2 shared cores' other work disturbs far less than requests per second.
    const cpuUs = ((cpuMsOf(child.pid) - cpuBefore) * 1000) / (load.rps * 5);
    record(`${server.label}, after wrk load (${load.rps.toFixed(0)} req/s, ${cpuUs.toFixed(0)} µs CPU a request)`, after, child.pid);
    await Bun.sleep(idleSeconds * 1000);
    record(`${server.label}, after the load and ${idleSeconds} s idle`, memoryOf(child.pid), child.pid);
    // A reading after the daemon's least interval between collections (IdleCollector, 10 s) has surely passed.
    await Bun.sleep(Math.max(0, 35 - idleSeconds) * 1000);
    record(`${server.label}, after the load and 35 s idle`, memoryOf(child.pid), child.pid);
  } finally {
    await stop(child);
  }
}

const world = await startFrontDoorWorld("bench-rss-www-");
const issuingRoot = world.issuingRoot;
try {
  if (!argv.includes("--skip-micro")) await micro();
  await frontDoor(daemonContender(world, binary, "bun-acme serve", extraEnv));
  if (!argv.includes("--skip-caddy")) await frontDoor(caddyContender(world));
} finally {
  await world.stop();
}
const table = ["| What | RSS, MiB | Peak, MiB | Anonymous, MiB | File-backed, MiB |", "| --- | ---: | ---: | ---: | ---: |",
  ...rows.map(([label, memory]) => `| ${label} | ${memory.rss.toFixed(1)} | ${memory.hwm.toFixed(1)} | ${memory.anon.toFixed(1)} | ${memory.file.toFixed(1)} |`)].join("\n");
console.log(`\n${table}`);
const envNote = Object.keys(extraEnv).length ? ` The daemon ran with ${Object.entries(extraEnv).map(([name, value]) => `${name}=${value}`).join(", ")}.` : "";
writeFileSync(outFile, `# Where the daemon's resident memory goes

Run on ${new Date().toISOString().slice(0, 10)} with \`bun run bench:rss\` (${binary.endsWith("dist/bun-acme") ? "dist/bun-acme" : binary}).${envNote} VmRSS and VmHWM from
/proc/PID/status, split into anonymous memory (RssAnon: heaps, JIT code, stacks) and file-backed pages (RssFile + RssShmem:
the executable as far as it has been run, which the kernel can drop and read again). The small programs are compiled the
way dist/bun-acme is (\`--compile --minify --bytecode\`) and read 0.3 s after they are ready. The front doors serve one site
proxied to nginx (a 1 KiB file) with a certificate from Pebble: a warm start, ${idleSeconds} s without a request, one
request (a new TLS connection; its time with the pages in place and after the idle time), wrk (2 threads, 32 keep-alive
connections, 5 s; CPU per request from /proc/PID/stat, less disturbed by the shared cores than requests per second), and
${idleSeconds} s and 35 s without a request again (the daemon collects when idle, at most once per 10 s). One run: memory figures repeat within about 1 MiB here, times do not.

${table}
`);
console.log(`[rss] wrote ${outFile}`);
process.exit(0);
