/**
 * Part of the benchmark: COUNT certificates from one process with the library, all at once
 * (Promise.all) or one after another. One account, one http-01 server on 127.0.0.1:5002.
 *   bun run bench/concurrent.ts DIRECTORY_URL CA_FILE parallel|sequential COUNT PREFIX
 * Prints one JSON line: {"ms": elapsed, "requests": n}.
 */
import { readFileSync } from "node:fs";
import { AcmeTransport, issueCertificate, registerAccount } from "../src/acme/index.ts";
import { createCsr } from "../src/asn1/index.ts";
import { Http01Solver } from "../src/challenges/index.ts";
import { generateKeyPair } from "../src/jose/index.ts";
import { serve } from "../src/servers/index.ts";

const [directoryUrl, caFile, mode, countText, prefix] = process.argv.slice(2) as [string, string, string, string, string];
const ca = readFileSync(caFile, "utf8");
const solver = new Http01Solver();
const server = serve({ name: "http-01 challenge server", hostname: "127.0.0.1", port: 5002, handler: (request) => solver.handle(request) });

const started = performance.now();
// A short request timeout: Pebble 2.4.0 can stop answering under this load, and the bench then
// retries on a fresh Pebble rather than wait out the default 30 s and retries.
const transport = new AcmeTransport({ directoryUrl, requestTimeoutMs: 5_000, retry: { connectionRetries: 0 }, fetch: (url, init) => fetch(url, { ...init, tls: { ca } }) });
const account = await registerAccount(transport, await generateKeyPair("ec256"));
const issue = async (name: string) =>
  issueCertificate({
    transport,
    account,
    identifiers: [{ type: "dns", value: name }],
    solver,
    csr: await createCsr({ dnsNames: [name], keyPair: await generateKeyPair("ec256") }),
  });
const names = Array.from({ length: Number(countText) }, (_, i) => `${prefix}-${i}.bench.test`);
if (mode === "parallel") await Promise.all(names.map(issue));
else for (const name of names) await issue(name);
console.log(JSON.stringify({ ms: performance.now() - started, requests: transport.requestCount }));
await server.stop();
