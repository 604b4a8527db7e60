/**
 * Runs the DNS server alone in its own process, for fuzz tests that watch it from outside
 * (crashes, memory, stderr). Prints "ready <port>" once listening and "sendErrors <n>" on SIGTERM.
 */
import { startDnsServer } from "../../src/dns/index.ts";

const server = await startDnsServer({
  hostname: "127.0.0.1",
  port: Number(process.argv[2] ?? 0),
  zone: { address: "127.0.0.9", txtValues: (name) => (name === "_acme-challenge.fuzz.test" ? ["fuzz-value"] : []) },
});
process.on("SIGTERM", () => {
  console.log(`sendErrors ${server.sendErrors}`);
  server.stop();
  process.exit(0);
});
console.log(`ready ${server.port}`);
