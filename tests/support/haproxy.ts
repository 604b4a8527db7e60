/**
 * A real HAProxy (Debian's haproxy) as the fleet's load balancer: one HTTP frontend on a loopback
 * port, round-robin over the instances' ports.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./temp.ts";

/** A running haproxy. */
export interface Haproxy {
  stop(): Promise<void>;
}

/** Starts haproxy on 127.0.0.1:`port`, round-robin to 127.0.0.1:`backends`; waits until it accepts connections. */
export async function startHaproxy(port: number, backends: readonly number[]): Promise<Haproxy> {
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
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
