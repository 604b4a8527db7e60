/**
 * A real HAProxy (Debian's haproxy) as the fleet's load balancer: one HTTP frontend on a loopback
 * port, round-robin over the instances' ports.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./temp.ts";

/** What one backend server received, from HAProxy's own statistics. */
export interface BackendStats {
  /** Requests sent to it. */
  readonly requests: number;
  /** Of which answered 2xx. */
  readonly ok: number;
}

/** A running haproxy. */
export interface Haproxy {
  /** Per instance port: what HAProxy sent there. */
  stats(): Promise<Map<number, BackendStats>>;
  stop(): Promise<void>;
}

/** Starts haproxy on 127.0.0.1:`port`, round-robin to 127.0.0.1:`backends`; waits until it accepts connections. */
export async function startHaproxy(port: number, backends: readonly number[], statsPort = port + 10_000): Promise<Haproxy> {
  const dir = makeTempDir("bun-acme-haproxy-");
  writeFileSync(join(dir, "haproxy.cfg"), `global
  maxconn 256
defaults
  mode http
  # An instance still starting (or stopping) refuses the connection: try another, as a balancer in front of a fleet would.
  retries 3
  option redispatch 1
  timeout connect 2s
  timeout client 10s
  timeout server 10s
listen stats
  bind 127.0.0.1:${statsPort}
  stats enable
  stats uri /stats
frontend validation
  bind 127.0.0.1:${port}
  default_backend fleet
backend fleet
  balance roundrobin
${backends.map((backend, index) => `  server instance${index} 127.0.0.1:${backend}`).join("\n")}
`);
  const child = Bun.spawn(["haproxy", "-db", "-f", join(dir, "haproxy.cfg")], { stdout: "ignore", stderr: "pipe" });
  for (let attempt = 0; ; attempt++) {
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, open: (socket) => void socket.end() } }).then(() => true, () => false);
    if (open) break;
    if (child.exitCode !== null || attempt > 200) {
      child.kill();
      throw new Error(`haproxy did not start: ${await new Response(child.stderr).text()}`);
    }
    await Bun.sleep(20);
  }
  return {
    async stats() {
      // CSV columns: pxname, svname, ..., stot (8th: sessions), ..., hrsp_2xx (41st).
      const csv = await (await fetch(`http://127.0.0.1:${statsPort}/stats;csv`)).text();
      const [header, ...rows] = csv.trim().split("\n");
      const columns = header!.replace(/^# /, "").split(",");
      const column = (row: string[], name: string) => Number(row[columns.indexOf(name)]);
      const result = new Map<number, BackendStats>();
      for (const row of rows.map((line) => line.split(","))) {
        const index = row[0] === "fleet" ? /^instance(\d+)$/.exec(row[1]!)?.[1] : undefined;
        if (index !== undefined) result.set(backends[Number(index)]!, { requests: column(row, "stot"), ok: column(row, "hrsp_2xx") });
      }
      return result;
    },
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
