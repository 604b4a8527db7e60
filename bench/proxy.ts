/**
 * The reverse proxy against nginx: requests per second and p99 latency of HTTPS proxying to the
 * same upstream (Debian's nginx serving static files over plain HTTP on loopback), through
 * (a) nginx's `proxy_pass` with upstream keep-alive and (b) bun-acme's `createReverseProxy()` in
 * a `HotTlsServer` (what the daemon serves with); the upstream reached directly as a reference.
 * A 1 KiB file under wrk (32 keep-alive connections), and a 16 MiB file with curl.
 * Writes bench/proxy-results.md.
 *
 *   bun run bench:proxy [--rounds N]
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createReverseProxy, HotTlsServer } from "../src/servers/index.ts";
import { startNginx } from "../tests/support/nginx.ts";
import { makeTlsMaterial } from "../tests/support/pebble.ts";
import { makeTempDir } from "../tests/support/temp.ts";
import { median } from "./lib/stats.ts";

const argv = process.argv.slice(2);
const roundsIndex = argv.indexOf("--rounds");
const rounds = roundsIndex >= 0 ? Number(argv[roundsIndex + 1]) : 3;
const log = (line: string) => console.log(`[bench] ${line}`);
const SECONDS = 5;
const CONNECTIONS = 32;
const NAME = "localhost";
const UPSTREAM_PORT = 18610;
const NGINX_PROXY_PORT = 18611;
const BUN_PROXY_PORT = 18612;

interface Load { rps: number; p99Ms: number; errors: number }

/** wrk against `url` (HTTPS not verified: the certificate is the test root's). */
async function wrk(url: string): Promise<Load> {
  const child = Bun.spawn(["wrk", "-t2", `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--latency", "-H", `Host: ${NAME}`, url], { stdout: "pipe", stderr: "pipe" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const p99Ms = p99 ? Number(p99[1]) * (p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1) : NaN;
  const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0) + Number(/Socket errors:.*?(\d+)/.exec(text)?.[1] ?? 0);
  return { rps, p99Ms, errors };
}

/** MiB/s of one download with curl. */
async function download(url: string, caFile: string): Promise<number> {
  const child = Bun.spawn(["curl", "-s", "-o", "/dev/null", "--connect-to", `${NAME}::127.0.0.1:`, "--cacert", caFile, "-w", "%{speed_download}", url], { stdout: "pipe" });
  return Number(await new Response(child.stdout).text()) / 1048576;
}

async function startNginxProxy(dir: string, certFile: string, keyFile: string): Promise<() => Promise<void>> {
  const config = `daemon off;
worker_processes 1;
pid ${join(dir, "proxy.pid")};
error_log ${join(dir, "proxy-error.log")} warn;
events { worker_connections 1024; }
http {
  access_log off;
  proxy_temp_path ${join(dir, "proxy-temp")};
  client_body_temp_path ${join(dir, "proxy-body")};
  upstream app { server 127.0.0.1:${UPSTREAM_PORT}; keepalive 64; }
  server {
    listen 127.0.0.1:${NGINX_PROXY_PORT} ssl;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host; }
  }
}
`;
  writeFileSync(join(dir, "proxy.conf"), config);
  const child = Bun.spawn(["nginx", "-c", join(dir, "proxy.conf"), "-p", dir], { stdout: "ignore", stderr: "inherit" });
  for (let attempt = 0; attempt < 500; attempt++) {
    if (await Bun.connect({ hostname: "127.0.0.1", port: NGINX_PROXY_PORT, socket: { data() {}, open: (socket) => void socket.end() } }).then(() => true, () => false)) break;
    await Bun.sleep(10);
  }
  return async () => {
    child.kill("SIGQUIT");
    await child.exited;
  };
}

const tls = await makeTlsMaterial();
const dir = makeTempDir("bench-proxy-");
const webroot = join(dir, "www");
mkdirSync(webroot);
chmodSync(dir, 0o755); // nginx's workers (nobody) walk through it
writeFileSync(join(webroot, "small"), "x".repeat(1024));
writeFileSync(join(webroot, "large"), new Uint8Array(16 * 1024 * 1024));
const upstream = await startNginx(webroot, UPSTREAM_PORT);
const stopNginxProxy = await startNginxProxy(dir, tls.certFile, tls.keyFile);
const proxy = createReverseProxy({ sites: [{ names: [NAME], upstream: `http://127.0.0.1:${UPSTREAM_PORT}` }] });
const bunProxy = new HotTlsServer({ hostname: "127.0.0.1", port: BUN_PROXY_PORT, fetch: (request, server) => proxy(request, { clientAddress: server.requestIP(request)?.address, tls: true }) });
await bunProxy.serve([{ names: [NAME], chainPem: await Bun.file(tls.certFile).text(), keyPem: await Bun.file(tls.keyFile).text() }]);

const setups = {
  "upstream directly (nginx, plain HTTP)": `http://127.0.0.1:${UPSTREAM_PORT}`,
  "nginx proxy_pass (HTTPS)": `https://${NAME}:${NGINX_PROXY_PORT}`,
  "bun-acme createReverseProxy in HotTlsServer (HTTPS)": `https://${NAME}:${BUN_PROXY_PORT}`,
};
const results = new Map<string, { loads: Load[]; downloads: number[] }>(Object.keys(setups).map((name) => [name, { loads: [], downloads: [] }]));
const started = performance.now();
for (let round = 0; round < rounds; round++) {
  for (const [name, base] of Object.entries(setups)) {
    const load = await wrk(`${base.replace(NAME, "127.0.0.1")}/small`);
    const speed = await download(`${base}/large`, tls.rootFile);
    results.get(name)!.loads.push(load);
    results.get(name)!.downloads.push(speed);
    log(`round ${round + 1}: ${name}: ${load.rps.toFixed(0)} req/s, p99 ${load.p99Ms.toFixed(2)} ms, ${speed.toFixed(0)} MiB/s`);
  }
}
await bunProxy.stop();
await stopNginxProxy();
await upstream.stop();

const rows = [...results].map(([name, { loads, downloads }]) =>
  `| ${name} | ${median(loads.map((load) => load.rps)).toFixed(0)} | ${median(loads.map((load) => load.p99Ms)).toFixed(2)} ms | ${loads.reduce((sum, load) => sum + load.errors, 0)} | ${median(downloads).toFixed(0)} |`);
const report = `# Reverse proxy benchmark results

Run on ${new Date().toISOString().slice(0, 10)}, ${rounds} rounds, in ${((performance.now() - started) / 1000).toFixed(0)} s with \`bun run bench:proxy\`:
wrk (2 threads, ${CONNECTIONS} keep-alive connections, ${SECONDS} s) fetching a 1 KiB file, then curl downloading a 16 MiB file,
from the same upstream (Debian's nginx, static files, plain HTTP on loopback). The machine's 2 cores are shared by
wrk, the proxy and the upstream: compare the rows, not the absolute figures.

| Path | Requests per second (median) | p99 latency (median) | Errors (all rounds) | 16 MiB download, MiB/s (median) |
| --- | ---: | ---: | ---: | ---: |
${rows.join("\n")}
`;
writeFileSync(join(import.meta.dir, "proxy-results.md"), report);
log("wrote bench/proxy-results.md");
process.exit(0);
