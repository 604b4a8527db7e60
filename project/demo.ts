/**
 * `bun run demo`: a first run on a fresh machine. Starts a local Pebble (the Let's Encrypt test
 * CA, from Debian's `pebble` package), obtains a certificate with the real command line, checks
 * the HTTPS server with a verified TLS handshake, and shuts everything down.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type DetailedPeerCertificate, type PeerCertificate } from "node:tls";
import { requestShutdown, SERVING_LINE, startClient } from "../tests/support/client.ts";
import { startPebble } from "../tests/support/pebble.ts";

const DOMAIN = "demo.example.test";
const step = (text: string) => console.log(`\n▸ ${text}`);
const started = performance.now();

step("Starting Pebble, the ACME test CA, on 127.0.0.1:14000 (instant validation)");
const pebble = await startPebble().catch((error: Error) => {
  console.error(`Cannot start Pebble: ${error.message.split("\n")[0]}\nRun project/compile first: it installs Pebble from Debian's packages.`);
  process.exit(1);
});
const out = mkdtempSync(join(tmpdir(), "bun-acme-demo-"));
let exitCode = 1;
try {
  const args = ["http01", "--dir", pebble.directoryUrl, "--record", "127.0.0.1", "--domain", DOMAIN, "--ca", pebble.tlsRootFile,
    "--bind", "127.0.0.1", "--out", out];
  step(`bun run src/main.ts ${args.join(" ")}`);
  const client = startClient(args);
  client.stdout.listen((line) => console.log(`  │ ${line}`));
  const exitedEarly = client.exited.then((code) => {
    throw new Error(`the client exited with code ${code}: ${client.stderr.text().trim()}`);
  });
  exitedEarly.catch(() => {}); // only the race below reports it
  await Promise.race([client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 60_000), exitedEarly]);

  const pebbleRoot = await (await pebble.management("/roots/0")).text();
  step(`TLS handshake with 127.0.0.1:5001 for ${DOMAIN}, verified against Pebble's root`);
  const peer = await new Promise<{ authorized: boolean; chain: PeerCertificate[]; body: string }>((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: 5001, servername: DOMAIN, ca: pebbleRoot }, () => {
      const chain: PeerCertificate[] = [];
      let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (current?.fingerprint256 && !chain.some((c) => c.fingerprint256 === current!.fingerprint256)) {
        chain.push(current);
        current = current.issuerCertificate;
      }
      socket.write(`GET / HTTP/1.1\r\nHost: ${DOMAIN}\r\nConnection: close\r\n\r\n`);
      let response = "";
      socket.on("data", (data) => (response += data));
      socket.on("end", () => resolve({ authorized: socket.authorized, chain, body: response.split("\r\n\r\n")[1] ?? "" }));
    });
    socket.on("error", reject);
  });
  console.log(`  verified: ${peer.authorized ? "yes" : "NO"}`);
  for (const certificate of peer.chain) console.log(`  ${certificate.subject.CN}  (issued by ${certificate.issuer.CN}, valid to ${certificate.valid_to})`);
  console.log(`  GET / → ${peer.body.trim()}`);

  step("GET http://127.0.0.1:5003/shutdown");
  await requestShutdown();
  const code = await client.exited;
  console.log(`  the client exited with code ${code}`);
  exitCode = peer.authorized && code === 0 ? 0 : 1;
  step(`${exitCode === 0 ? "Done" : "FAILED"} in ${((performance.now() - started) / 1000).toFixed(1)} s. cert.pem (full chain) and key.pem are in ${out}`);
} catch (error) {
  console.error(`Demo failed: ${(error as Error).message}`);
} finally {
  await pebble.stop();
}
process.exit(exitCode);
