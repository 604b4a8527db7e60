/**
 * A real Pebble for tests, the benchmark and the demo: makes a throwaway TLS root and a
 * localhost certificate for Pebble's HTTPS endpoints (the Debian package ships none), writes a
 * config, starts `pebble`, and waits for its "ACME directory available" line.
 */
import { afterAll, beforeAll } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "./lines.ts";
import { opensslIssue, opensslRoot } from "./openssl.ts";
import { busyPorts } from "./ports.ts";
import { makeTempDir } from "./temp.ts";

/** Options for one Pebble process. */
export interface PebbleOptions {
  /** Extra environment, e.g. `{ PEBBLE_WFE_NONCEREJECT: "50" }`. Defaults make tests deterministic. */
  readonly env?: Record<string, string>;
  /** Extra keys for the `pebble` config object. */
  readonly config?: Record<string, unknown>;
  /** Where Pebble sends every validation lookup (default 127.0.0.1:10053). */
  readonly dnsServer?: string;
  readonly listenPort?: number;
  readonly managementPort?: number;
}

/** A running Pebble. */
export interface Pebble {
  readonly directoryUrl: string;
  readonly managementUrl: string;
  /** The file holding the root that signs Pebble's HTTPS certificate: what `--ca` takes. */
  readonly tlsRootFile: string;
  readonly tlsRootPem: string;
  /** Pebble's log so far. */
  readonly log: () => string;
  /** Pebble's log, line by line. */
  readonly output: LineReader;
  /** GET a management path (e.g. `/roots/0`) as text. */
  management(path: string): Promise<Response>;
  stop(): Promise<void>;
}

let tlsMaterial: { dir: string; rootFile: string; rootPem: string; certFile: string; keyFile: string } | undefined;


/** Makes (once per process) a root and a certificate for localhost and 127.0.0.1 signed by it. */
export async function makeTlsMaterial(): Promise<NonNullable<typeof tlsMaterial>> {
  if (tlsMaterial) return tlsMaterial;
  const dir = makeTempDir("bun-acme-tls-");
  await opensslRoot(dir, "bun-acme test root", { key: "root.key", cert: "root.pem" });
  await opensslIssue(dir, "localhost", { key: "key.pem", cert: "cert.pem", rootKey: "root.key", rootCert: "root.pem" },
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  tlsMaterial = {
    dir,
    rootFile: join(dir, "root.pem"),
    rootPem: await Bun.file(join(dir, "root.pem")).text(),
    certFile: join(dir, "cert.pem"),
    keyFile: join(dir, "key.pem"),
  };
  return tlsMaterial;
}

async function untilAnswers(url: string, ca: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let problem: string;
    try {
      const response = await fetch(url, { tls: { ca } });
      await response.arrayBuffer();
      if (response.ok) return;
      problem = `HTTP ${response.status}`;
    } catch (error) {
      if ((error as { code?: string }).code !== "ECONNREFUSED") throw new Error(`Pebble does not answer at ${url}: ${(error as Error).message}`);
      problem = "connection refused";
    }
    if (Date.now() > deadline) throw new Error(`Pebble does not answer at ${url}: ${problem}`);
    await Bun.sleep(10);
  }
}

/**
 * Starts Pebble with instant validation, no nonce rejection and no authorization reuse unless
 * `options.env` says otherwise.
 */
export async function startPebble(options: PebbleOptions = {}): Promise<Pebble> {
  const tls = await makeTlsMaterial();
  const dir = makeTempDir("bun-acme-pebble-");
  const listenPort = options.listenPort ?? 14000;
  const managementPort = options.managementPort ?? 15000;
  // Pebble logs its "available" lines before binding, so a stale Pebble would answer in its place.
  const busy = await busyPorts([listenPort, managementPort], []);
  if (busy.length > 0) throw new Error(`Cannot start Pebble: ${busy.join(", ")} already in use (is another Pebble running?)`);
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listenPort}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: tls.certFile,
      privateKey: tls.keyFile,
      httpPort: 5002,
      tlsPort: 5001,
      ocspResponderURL: "",
      externalAccountBindingRequired: false,
      ...options.config,
    },
  };
  writeFileSync(join(dir, "pebble.json"), JSON.stringify(config));
  const child = Bun.spawn(["pebble", "-config", join(dir, "pebble.json"), "-dnsserver", options.dnsServer ?? "127.0.0.1:10053"], {
    env: {
      ...process.env,
      PEBBLE_VA_NOSLEEP: "1",
      PEBBLE_WFE_NONCEREJECT: "0",
      PEBBLE_AUTHZREUSE: "0",
      ...options.env,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines = new LineReader(child.stdout);
  const ready = await lines.waitFor((line) => line.includes("ACME directory available at"), 15_000).catch(async (error) => {
    child.kill();
    throw new Error(`Pebble did not start: ${(error as Error).message}\n${lines.text()}${await new Response(child.stderr).text()}`);
  });
  const directoryUrl = ready.slice(ready.indexOf("https://")).trim();
  const managementUrl = `https://127.0.0.1:${managementPort}`;
  // Pebble logs its "listening" lines before its listeners accept connections, and gives no
  // other signal: probe both until they answer (refused connections fail at once).
  for (const url of [directoryUrl, `${managementUrl}/roots/0`]) {
    await untilAnswers(url, tls.rootPem, 10_000).catch((error) => {
      child.kill();
      throw error;
    });
  }
  return {
    directoryUrl,
    managementUrl,
    tlsRootFile: tls.rootFile,
    tlsRootPem: tls.rootPem,
    log: () => lines.text(),
    output: lines,
    management: (path) => fetch(`${managementUrl}${path}`, { tls: { ca: tls.rootPem } }),
    async stop() {
      child.kill();
      await child.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts a Pebble before the tests of the enclosing describe block and stops it after them;
 * returns a getter for it.
 */
export function usePebble(options: PebbleOptions = {}): () => Pebble {
  let pebble: Pebble | undefined;
  beforeAll(async () => {
    pebble = await startPebble(options);
  });
  afterAll(async () => {
    await pebble?.stop();
  });
  return () => {
    if (!pebble) throw new Error("Pebble is not running (usePebble() must be called inside describe)");
    return pebble;
  };
}
