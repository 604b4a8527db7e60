/**
 * What the front-door benchmark (bench/caddy.ts) measures a server with: a verified TLS handshake
 * and one HTTP/1.1 request per probe (node:tls, a new connection each time, never retried), RSS
 * and peak RSS from /proc, and wrk with the site's name resolved through a private /etc/hosts
 * (wrk sends the URL's host as SNI, so it must be the site's name, not an address).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:tls";
import { join } from "node:path";

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
 * Resident and peak resident memory of `pid` in MiB (VmRSS, VmHWM), and the part of the resident
 * memory that is anonymous (RssAnon: heaps, stacks, JIT code; the rest is file-backed, the
 * executable's pages as far as they were run, which the kernel can drop and read again).
 */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number; anonMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kb("VmRSS") / 1024, peakMiB: kb("VmHWM") / 1024, anonMiB: kb("RssAnon") / 1024 };
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
