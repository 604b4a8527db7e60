/**
 * A load generator for the HTTPS benchmarks, run as its own process: `connections` keep-alive
 * clients (Bun's fetch pools connections) request one URL for `seconds`, every answer checked.
 * Prints one JSON line: requests, failed, per-second rate, and latency percentiles.
 *
 *   bun bench/lib/load.ts URL SECONDS CONNECTIONS CA_FILE SERVERNAME
 */
const [url, secondsText, connectionsText, caFile, serverName] = process.argv.slice(2);
const seconds = Number(secondsText);
const ca = await Bun.file(caFile!).text();
const latencies: number[] = [];
let failed = 0;
const end = performance.now() + seconds * 1000;
await Promise.all(Array.from({ length: Number(connectionsText) }, async () => {
  while (performance.now() < end) {
    const started = performance.now();
    try {
      const response = await fetch(url!, { tls: { ca, serverName: serverName! } });
      await response.arrayBuffer();
      if (response.status === 200) latencies.push(performance.now() - started);
      else failed++;
    } catch {
      failed++;
    }
  }
}));
latencies.sort((a, b) => a - b);
const at = (fraction: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * fraction))] ?? Number.NaN;
console.log(JSON.stringify({ requests: latencies.length, failed, rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99) }));
export {};
