import { startPebble } from "./tests/support/pebble.ts";
import { startDnsServer } from "./src/dns/index.ts";
import { readFileSync } from "node:fs";
const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10054, zone: { address: "127.0.0.1", txtValues: () => [] } });
const p = await startPebble({ dnsServer: "127.0.0.1:10054" });
const pebblePid = Number(Bun.spawnSync(["pgrep", "-n", "pebble"]).stdout.toString().trim());
const cpu = () => { const f = readFileSync(`/proc/${pebblePid}/stat`, "utf8").split(") ")[1]!.split(" "); return (Number(f[11]) + Number(f[12])) * 10; };
for (const mode of ["parallel", "sequential", "parallel"]) {
  const before = cpu();
  const c = Bun.spawn(["/usr/bin/time", "-f", "%U user %S sys %e wall", "bun", "run", "bench/concurrent.ts", p.directoryUrl, p.tlsRootFile, mode, "50", "t" + Date.now()], { stdout: "pipe", stderr: "pipe" });
  console.log(mode, (await new Response(c.stdout).text()).trim(), (await new Response(c.stderr).text()).trim(), "pebble cpu ms", cpu() - before);
}
await p.stop(); dns.stop();
