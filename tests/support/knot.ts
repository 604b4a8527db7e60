/**
 * A real Knot DNS (`knotd` from Debian's knot) as a secondary of a primary on a loopback port: it
 * transfers the zone and, with the primary sending no NOTIFY, refreshes it every `refreshSeconds`:
 * a name server that is late, as real secondaries are.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "./lines.ts";
import { makeTempDir } from "./temp.ts";

/** A running knotd. */
export interface Knot {
  readonly address: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts knotd on `address`:`port`, secondary for `zone` from the primary at 127.0.0.1:`primaryPort`; waits until it serves the zone. */
export async function startKnotSecondary(address: string, port: number, zone: string, primaryPort: number, refreshSeconds = 2): Promise<Knot> {
  const dir = makeTempDir("bun-acme-knot-");
  writeFileSync(join(dir, "knot.conf"), `server:
    rundir: "${dir}"
    listen: ${address}@${port}
log:
  - target: stdout
    any: info
database:
    storage: "${dir}"
remote:
  - id: primary
    address: 127.0.0.1@${primaryPort}
template:
  - id: default
    storage: "${dir}"
    refresh-min-interval: ${refreshSeconds}
    refresh-max-interval: ${refreshSeconds}
    retry-min-interval: 1
    retry-max-interval: 1
zone:
  - domain: ${zone}
    master: primary
`);
  const child = Bun.spawn(["knotd", "-c", join(dir, "knot.conf")], { stdout: "pipe", stderr: "pipe" });
  const lines = new LineReader(child.stdout);
  for (let attempt = 0; ; attempt++) {
    const dig = Bun.spawnSync(["dig", `@${address}`, "-p", String(port), "+short", "+time=1", "+tries=1", zone, "SOA"]);
    if (dig.stdout.toString().trim() !== "") break;
    if (child.exitCode !== null || attempt > 100) {
      child.kill();
      throw new Error(`knotd did not serve ${zone}: ${lines.text()}${await new Response(child.stderr).text()}`);
    }
    await Bun.sleep(100);
  }
  return {
    address,
    port,
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
