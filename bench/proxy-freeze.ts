/**
 * The "frozen by one client" scenario of issue 19, against a compiled daemon (`serve --config`)
 * and a real Pebble: 300 TLS clients ask a site whose upstream accepts and never answers, then all
 * leave; curl asks another site before, during, right after and 45 s after. Prints what each saw
 * and how many upstream connections stayed open. Compare two builds:
 *
 *   bun bench/proxy-freeze.ts dist/bun-acme
 *   bun bench/proxy-freeze.ts /path/to/an/older/bun-acme
 *
 * Uses the ETH ports (5001, 5002, 10053) and Pebble's default ports: run it in a network namespace
 * of its own (`unshare -n`).
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { connect } from "node:tls";
import { startDnsServer } from "../src/dns/index.ts";
import { startPebble } from "../tests/support/pebble.ts";
import { makeTempDir } from "../tests/support/temp.ts";

const executable = resolve(process.argv[2] ?? "dist/bun-acme");
const CLIENTS = 300;
const dns = await startDnsServer({ hostname: "127.0.0.1", port: 10053, zone: { address: "127.0.0.1", txtValues: () => [] } });
const pebble = await startPebble();
const dir = makeTempDir("bench-proxy-freeze-");
const root = await (await pebble.management("/roots/0")).text();
const rootFile = join(dir, "issuing-root.pem");
writeFileSync(rootFile, root);
let open = 0;
const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void open++, close: () => void open--, data() {} } });
const good = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("good") });
writeFileSync(join(dir, "serve.toml"), `directory = "${pebble.directoryUrl}"\nca = "${pebble.tlsRootFile}"\nstore = "${join(dir, "store")}"\n` +
  `[listen]\nhostname = "127.0.0.1"\nhttps = 5001\nhttp = 5002\n` +
  `[[site]]\nnames = ["hang.freeze.test"]\nupstream = "http://127.0.0.1:${silent.port}"\n` +
  `[[site]]\nnames = ["good.freeze.test"]\nupstream = "http://127.0.0.1:${good.port}"\n`);
const daemon = Bun.spawn([executable, "serve", "--config", join(dir, "serve.toml")], { stdout: "pipe", stderr: "inherit" });
const reader = daemon.stdout.getReader();
for (let out = ""; !out.includes("serving ");) {
  const chunk = await reader.read();
  if (chunk.done) throw new Error(`the daemon stopped: ${out}`);
  out += new TextDecoder().decode(chunk.value);
}

async function askGoodSite(): Promise<string> {
  const started = performance.now();
  const child = Bun.spawn(["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-w", "%{http_code}", "--cacert", rootFile,
    "--resolve", "good.freeze.test:5001:127.0.0.1", "https://good.freeze.test:5001/"], { stdout: "pipe" });
  return `HTTP ${await new Response(child.stdout).text()} in ${Math.round(performance.now() - started)} ms`;
}

console.log(`${executable}`);
console.log(`other site before: ${await askGoodSite()}`);
const answers: string[] = [];
const sockets = Array.from({ length: CLIENTS }, () => {
  const socket = connect({ host: "127.0.0.1", port: 5001, servername: "hang.freeze.test", ca: root });
  let text = "";
  socket.on("error", () => {});
  socket.on("data", (data) => (text += data.toString("latin1")));
  socket.on("close", () => answers.push(text.slice(9, 12) || "none"));
  socket.on("secureConnect", () => socket.write("GET / HTTP/1.1\r\nHost: hang.freeze.test\r\n\r\n"));
  return socket;
});
await Bun.sleep(2000); // the clients wait 2 s, as in the issue
console.log(`while ${CLIENTS} clients wait: upstream connections open ${open}; other site: ${await askGoodSite()}`);
for (const socket of sockets) socket.destroy();
await Bun.sleep(500);
const counts: Record<string, number> = {};
for (const answer of answers) counts[answer] = (counts[answer] ?? 0) + 1;
console.log(`answers the ${CLIENTS} clients had before leaving: ${JSON.stringify(counts)}; upstream connections open 0.5 s after: ${open}`);
console.log(`other site right after: ${await askGoodSite()}`);
await Bun.sleep(45_000);
console.log(`other site 45 s later: ${await askGoodSite()}; upstream connections open: ${open}`);
daemon.kill();
await daemon.exited;
await pebble.stop();
dns.stop();
silent.stop(true);
await good.stop(true);
process.exit(0);
