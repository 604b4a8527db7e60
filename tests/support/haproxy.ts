/**
 * A real HAProxy (Debian's haproxy) as the fleet's load balancer, on loopback ports: an HTTP
 * frontend round-robining over the instances' HTTP ports (the CA's http-01 requests), and/or a TLS
 * frontend in TCP mode that reads the ClientHello and sends those offering ALPN `acme-tls/1` (the
 * CA's tls-alpn-01 validations) round-robin to the instances' tls-alpn-01 responders, everything
 * else to their HTTPS ports. Statistics per server come from HAProxy itself.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "./lines.ts";
import { makeTempDir } from "./temp.ts";

/** What one backend server received, from HAProxy's own statistics. */
export interface BackendStats {
  /** Sessions (requests in HTTP mode, connections in TCP mode) sent to it. */
  readonly requests: number;
  /** Of which answered 2xx (HTTP mode only). */
  readonly ok: number;
  /** Of which answered 4xx, a 404 among them (HTTP mode only). */
  readonly clientErrors: number;
  /** Connections to it that failed (`econ`) and responses from it that failed (`eresp`): requests HAProxy sent elsewhere or answered itself. */
  readonly failed: number;
}

/** A running haproxy. */
export interface Haproxy {
  /** Per instance port (any backend): what HAProxy sent there. */
  stats(): Promise<Map<number, BackendStats>>;
  /** HAProxy's log so far: one line per HTTP request (httplog format, with its termination state) or TCP session. */
  log(): string;
  stop(): Promise<void>;
}

/** The frontends to run. */
export interface HaproxyFrontends {
  readonly http?: { readonly port: number; readonly backends: readonly number[] };
  readonly tls?: { readonly port: number; readonly acme: readonly number[]; readonly https: readonly number[] };
}

const servers = (ports: readonly number[]) => ports.map((port) => `  server p${port} 127.0.0.1:${port}`).join("\n");

function configuration(frontends: HaproxyFrontends, statsPort: number): string {
  const sections = [`global
  maxconn 256
  log stderr format raw local0
defaults
  mode http
  log global
  option httplog
  # An instance still starting (or stopping) refuses the connection: try another, as a balancer in front of a fleet would.
  retries 3
  option redispatch 1
  timeout connect 2s
  timeout client 10s
  timeout server 10s
listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats`];
  if (frontends.http) {
    sections.push(`frontend validation
  bind 127.0.0.1:${frontends.http.port}
  default_backend fleet
backend fleet
  balance roundrobin
${servers(frontends.http.backends)}`);
  }
  if (frontends.tls) {
    sections.push(`frontend tls
  mode tcp
  bind 127.0.0.1:${frontends.tls.port}
  tcp-request inspect-delay 5s
  tcp-request content accept if { req.ssl_hello_type 1 }
  use_backend acme if { req.ssl_alpn acme-tls/1 }
  default_backend https
backend acme
  mode tcp
  balance roundrobin
${servers(frontends.tls.acme)}
backend https
  mode tcp
  balance roundrobin
${servers(frontends.tls.https)}`);
  }
  return `${sections.join("\n")}\n`;
}

/** Starts haproxy with `frontends`; waits until every frontend accepts connections. */
export async function startHaproxy(frontends: HaproxyFrontends, statsPort = 10_000 + (frontends.http?.port ?? frontends.tls!.port)): Promise<Haproxy> {
  const dir = makeTempDir("bun-acme-haproxy-");
  writeFileSync(join(dir, "haproxy.cfg"), configuration(frontends, statsPort));
  const child = Bun.spawn(["haproxy", "-db", "-f", join(dir, "haproxy.cfg")], { stdout: "ignore", stderr: "pipe" });
  const stderr = new LineReader(child.stderr); // drained as it comes: a full pipe would stall HAProxy
  for (const port of [frontends.http?.port, frontends.tls?.port].filter((port) => port !== undefined)) {
    for (let attempt = 0; ; attempt++) {
      const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, open: (socket) => void socket.end() } }).then(() => true, () => false);
      if (open) break;
      if (child.exitCode !== null || attempt > 200) {
        child.kill();
        await stderr.done;
        throw new Error(`haproxy did not start: ${stderr.text()}`);
      }
      await Bun.sleep(20);
    }
  }
  return {
    log: () => stderr.text(),
    async stats() {
      const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
      const [header, ...rows] = csv.trim().split("\n");
      const columns = header!.replace(/^# /, "").split(",");
      const result = new Map<number, BackendStats>();
      for (const row of rows.map((line) => line.split(","))) {
        const port = /^p(\d+)$/.exec(row[1]!)?.[1];
        const count = (column: string) => Number(row[columns.indexOf(column)] || 0);
        if (port !== undefined) result.set(Number(port), { requests: count("stot"), ok: count("hrsp_2xx"), clientErrors: count("hrsp_4xx"), failed: count("econ") + count("eresp") });
      }
      return result;
    },
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
