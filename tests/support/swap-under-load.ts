/**
 * Run by tests/servers/hot-tls.test.ts inside a private network namespace (where the test sets
 * net.ipv4.tcp_migrate_req): a HotTlsServer swapping its certificate every `intervalMs` under
 * non-retrying load, then one JSON line: the resolved mode, the swaps, what the clients saw, and
 * how many retired backends were still draining once the clients had stopped.
 *
 *   bun swap-under-load.ts MODE SWAPS INTERVAL_MS
 */
import { X509Certificate } from "node:crypto";
import { connect } from "node:tls";
import { HotTlsServer, type SwapMode } from "../../src/servers/index.ts";
import { chainPem, createTestRoot } from "./certificates.ts";
import { startHttpLoad } from "./http-load.ts";
import { servedLeaf } from "./served-leaf.ts";

const [mode = "auto", swaps = "6", intervalMs = "300"] = process.argv.slice(2);
const root = await createTestRoot("swap test root");
const certificates = await Promise.all(Array.from({ length: Number(swaps) + 1 }, () => servedLeaf(root, ["swap.test"])));
const server = new HotTlsServer({
  hostname: "127.0.0.1",
  port: 0,
  mode: mode as SwapMode,
  drainMs: mode === "relay" ? undefined : 200,
  fetch: async (request) => new Response(request.method === "POST" ? `got ${(await request.arrayBuffer()).byteLength}\n` : "hello\n"),
});
await server.serve([certificates[0]!]);
const load = await startHttpLoad({ port: server.port, name: "swap.test", caPem: chainPem([root.der]), keepAlive: 4, newConnections: 4, posts: 2 });
/** The serial a new connection is shown. */
const presented = () => new Promise<string>((resolve, reject) => {
  const socket = connect({ host: "127.0.0.1", port: server.port, servername: "swap.test", rejectUnauthorized: false }, () => {
    resolve(socket.getPeerCertificate().serialNumber);
    socket.end();
  });
  socket.once("error", reject);
});
/** Whether a new connection met each certificate once its swap was done (reuse-port: after the old listener's grace). */
const fresh: boolean[] = [];
for (const certificate of certificates.slice(1)) {
  await Bun.sleep(Number(intervalMs)); // the load runs meanwhile: the interval is the experiment, not a wait for an event
  await server.serve([certificate]);
  while (server.mode === "reuse-port" && server.draining > 0) await Bun.sleep(10);
  const expected = new X509Certificate(certificate.chainPem).serialNumber;
  fresh.push((await presented()) === expected);
}
await Bun.sleep(Number(intervalMs));
const result = await load.stop();
for (let waited = 0; server.draining > 0 && waited < 5_000; waited += 20) await Bun.sleep(20);
console.log(JSON.stringify({ mode: server.mode, swaps: server.swaps, draining: server.draining, fresh, ...result }));
await server.stop();
