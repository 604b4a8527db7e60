/**
 * What the front-door benchmarks (bench/caddy.ts, bench/rss.ts) share: the world they run in
 * (Pebble, nginx as the upstream, the DNS server Pebble asks), the two front doors (the compiled
 * daemon and Caddy) and how each is configured, started and stopped; and what a server is measured
 * with: a verified TLS handshake and one HTTP/1.1 request per probe (node:tls, a new connection each
 * time, never retried), memory from /proc, and wrk with the site's name resolved through a private
 * /etc/hosts (wrk sends the URL's host as SNI, so it must be the site's name, not an address).
 */
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { startDnsServer } from "../../src/dns/index.ts";
import { startNginx } from "../../tests/support/nginx.ts";
import { startPebble, type Pebble } from "../../tests/support/pebble.ts";
import { makeTempDir } from "../../tests/support/temp.ts";

/** The fixed ports: the front door's HTTPS and HTTP, and the upstream's. */
export const PORTS = { https: 18701, http: 18702, upstream: 18700 } as const;

/** Pebble, its issuing root, and nginx serving a 1 KiB /index.html over plain HTTP. */
export interface FrontDoorWorld {
  readonly pebble: Pebble;
  /** PEM of the root Pebble issues under (what a probe verifies against). */
  readonly issuingRoot: string;
  stop(): Promise<void>;
}

/** Starts the world on loopback: the DNS server on 10053 (Pebble's resolver), Pebble validating on the front door's ports, nginx. */
export async function startFrontDoorWorld(tempPrefix: string): Promise<FrontDoorWorld> {
  const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10053, zone: { address: "127.0.0.1", txtValues: () => [] } });
  const pebble = await startPebble({ config: { httpPort: PORTS.http, tlsPort: PORTS.https } });
  const issuingRoot = await (await pebble.management("/roots/0")).text();
  const webroot = makeTempDir(tempPrefix);
  writeFileSync(join(webroot, "index.html"), "x".repeat(1024));
  const upstream = await startNginx(webroot, PORTS.upstream);
  return {
    pebble, issuingRoot,
    async stop() {
      await upstream.stop();
      await pebble.stop();
      dns.stop();
    },
  };
}

/** A front door under test: writes its configuration for `names` into `dir` and starts from it. */
export interface Contender {
  readonly label: string;
  configure(dir: string, names: readonly string[]): void;
  spawn(dir: string): Subprocess;
}

const logs = (dir: string) => ({ stdout: openSync(join(dir, "out.log"), "a"), stderr: openSync(join(dir, "err.log"), "a") });

/** The compiled daemon at `executable` (`serve --config`), each name a site proxied to the upstream; `env` added to its environment. */
export function daemonContender(world: FrontDoorWorld, executable: string, label: string, env: Record<string, string> = {}): Contender {
  return {
    label,
    configure(dir, names) {
      const sites = names.map((name) => `[[site]]\nnames = ["${name}"]\nupstream = "http://127.0.0.1:${PORTS.upstream}"\n`).join("\n");
      writeFileSync(join(dir, "serve.toml"), `directory = "${world.pebble.directoryUrl}"\nca = "${world.pebble.tlsRootFile}"\nstore = "${join(dir, "store")}"\n\n` +
        `[listen]\nhostname = "127.0.0.1"\nhttps = ${PORTS.https}\nhttp = ${PORTS.http}\n\n${sites}`);
    },
    spawn: (dir) => Bun.spawn([executable, "serve", "--config", join(dir, "serve.toml")], { env: { ...process.env, ...env }, ...logs(dir) }),
  };
}

/** Debian's Caddy 2.6.2 with a Caddyfile: its ACME CA Pebble, each name a site proxied to the upstream. */
export function caddyContender(world: FrontDoorWorld): Contender {
  return {
    label: "Caddy 2.6.2",
    configure(dir, names) {
      const sites = names.map((name) => `${name} {\n\treverse_proxy 127.0.0.1:${PORTS.upstream}\n}\n`).join("");
      writeFileSync(join(dir, "Caddyfile"), `{\n\tadmin off\n\thttp_port ${PORTS.http}\n\thttps_port ${PORTS.https}\n\tdefault_bind 127.0.0.1\n` +
        `\tacme_ca ${world.pebble.directoryUrl}\n\tacme_ca_root ${world.pebble.tlsRootFile}\n\tstorage file_system {\n\t\troot ${join(dir, "store")}\n\t}\n\tskip_install_trust\n}\n${sites}`);
    },
    spawn: (dir) => Bun.spawn(["caddy", "run", "--config", join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CONFIG_HOME: join(dir, "config") }, ...logs(dir),
    }),
  };
}

/** SIGTERM and wait (SIGKILL after 15 s). */
export async function stopChild(child: Subprocess): Promise<void> {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  await child.exited;
  clearTimeout(timer);
}

/**
 * One verified handshake with `name` as SNI against 127.0.0.1:`port`, then `GET /` with
 * `Connection: close` for `path` (no request when undefined: 1 once verified). Resolves the status code,
 * or 0 when the handshake failed or did not verify.
 */
export function probe(port: number, name: string, ca: string, path: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, ca, timeout: 5_000 });
    let text = "";
    const done = (status: number) => {
      socket.destroy();
      resolve(status);
    };
    socket.on("secureConnect", () => {
      if (!socket.authorized) return done(0);
      if (path === undefined) return done(1);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${name}\r\nConnection: close\r\n\r\n`);
    });
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (match) done(Number(match[1]));
    });
    socket.on("error", () => done(0));
    socket.on("timeout", () => done(0));
    socket.on("close", () => done(0));
  });
}

/**
 * Resident and peak resident memory of `pid` in MiB (VmRSS, VmHWM), and its anonymous part
 * (RssAnon: heaps, stacks, JIT code) and file-backed part (RssFile and RssShmem: the executable's
 * pages as far as they were run, which the kernel can drop and read again).
 */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number; anonMiB: number; fileMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024, anonMiB: kb("RssAnon") / 1024, fileMiB: (kb("RssFile") + kb("RssShmem")) / 1024 };
}

/** A wrk run: requests per second, p99 in ms, and failures (socket errors and non-2xx answers). */
export interface WrkResult { rps: number; p99Ms: number; errors: number }

/**
 * wrk (2 threads, `connections` keep-alive connections, `seconds`) against `url`, its host name resolved to 127.0.0.1 by a hosts file bind-mounted in a mount namespace of its own.
 */
export async function wrk(dir: string, url: URL, seconds: number, connections: number): Promise<WrkResult> {
  const name = url.hostname;
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, `127.0.0.1 ${name}\n`);
  const child = Bun.spawn(["unshare", "-m", "sh", "-c", `mount --bind "$0" /etc/hosts && exec wrk -t2 -c${connections} -d${seconds}s --latency ${url.href}`, hosts],
    { stdout: "pipe", stderr: "pipe" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1]);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(text);
  const p99Ms = p99 ? Number(p99[1]) * (p99[2] === "us" ? 0.001 : p99[2] === "s" ? 1000 : 1) : Number.NaN;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)?.slice(1).reduce((sum, n) => sum + Number(n), 0) ?? 0;
  const errors = socketErrors + Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  if (!Number.isFinite(rps)) throw new Error(`wrk gave no result: ${text}${await new Response(child.stderr).text()}`);
  return { rps, p99Ms, errors };
}

/** Milliseconds until `check` is true, polled every `everyMs`; throws after `timeoutMs`. */
export async function msUntil(started: number, check: () => Promise<boolean>, timeoutMs: number, everyMs = 5): Promise<number> {
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) throw new Error(`not reached within ${timeoutMs} ms`);
    await Bun.sleep(everyMs);
  }
}
