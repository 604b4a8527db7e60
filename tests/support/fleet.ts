/**
 * Helpers for the fleet tests: instances of `fleet-instance.ts` as child processes, the serial a
 * port serves for a name, the orders Pebble received, and whether Pebble still answers at all.
 */
import { join } from "node:path";
import { connect } from "node:tls";
import { AcmeConnectionError, AcmeTransport, registerAccount } from "../../src/acme/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { LineReader } from "./lines.ts";
import type { Pebble } from "./pebble.ts";

/** A running fleet instance. */
export interface FleetInstance {
  readonly child: Bun.Subprocess<"ignore", "pipe", "pipe">;
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  readonly https: number;
  /** Waits for its "serving" line; on failure the error carries its output. */
  serving(timeoutMs?: number): Promise<void>;
  /** Its event lines of `type` (JSON objects). */
  events(type: string): Record<string, string>[];
}

/**
 * Starts `fleet-instance.ts` on `storeUrl` for `names`. A failed order is tried again after 1 s
 * (FLEET_RETRY_MS, unless `env` says otherwise): at a rolling start the CA may validate through an
 * instance that is not listening yet, as a real fleet's would, and the fleet must get past that.
 */
export function startInstance(pebble: Pebble, storeUrl: string, ports: { http: number; https: number }, names: readonly string[], env: Record<string, string> = {}): FleetInstance {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "fleet-instance.ts"), storeUrl, pebble.directoryUrl, pebble.tlsRootFile, String(ports.http), String(ports.https), ...names], {
    stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, FLEET_RETRY_MS: "1000", ...env },
  });
  const stdout = new LineReader(child.stdout);
  const stderr = new LineReader(child.stderr);
  return {
    child, stdout, stderr, https: ports.https,
    serving: (timeoutMs = 60_000) => stdout.waitFor((line) => line === "serving", timeoutMs).then(() => undefined, (error: Error) => {
      throw new Error(`${error.message}\n${stdout.text()}\n${stderr.text()}`);
    }),
    events: (type) => stdout.text().split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, string>).filter((event) => event.type === type),
  };
}

/** Stops instances with SIGTERM and waits for them. */
export async function stopInstances(instances: readonly FleetInstance[]): Promise<void> {
  for (const instance of instances) instance.child.kill("SIGTERM");
  await Promise.all(instances.map((instance) => instance.child.exited));
}

/** The serial number `port` presents for `servername`, without leading zeros. */
export function servedSerial(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber.replace(/^0+/, ""));
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** New orders Pebble has received so far. */
/**
 * Certificates Pebble issued (finalized orders). At a rolling start an order may fail validation
 * through an instance not listening yet and be made again: exactly once is about certificates.
 */
export function issuedAtPebble(pebble: Pebble): number {
  return pebble.log().split("\n").filter((line) => line.includes("POST /finalize-order/")).length;
}

/** Waits until the instances together report `count` "obtained" events (retries included), or fails after `timeoutMs`. */
export async function allObtained(instances: readonly FleetInstance[], count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // The events arrive on several processes' output: their sum is looked at as lines come in.
  while (instances.reduce((sum, instance) => sum + instance.events("obtained").length, 0) < count) {
    if (Date.now() > deadline) throw new Error(`only ${instances.reduce((sum, instance) => sum + instance.events("obtained").length, 0)} of ${count} certificates obtained in ${timeoutMs} ms`);
    await Bun.sleep(50);
  }
}

export function ordersAtPebble(pebble: Pebble): number {
  return pebble.log().split("\n").filter((line) => line.includes("POST /order-plz -> calling handler()")).length;
}

/**
 * Whether Pebble answers a signed POST (a new account) within `timeoutMs`. Pebble 2.4.0 can
 * deadlock its in-memory store when three requests meet (SIGQUIT's goroutine dump, bench:fleet at
 * 8 instances): a new order holds the store's read lock while it reads an authorization's lock, a
 * POST-as-GET of that authorization holds it for writing while it asks the store's read lock for
 * the account, and a finished order's certificate waits for the store's write lock, which makes
 * every later reader wait. It then still answers `GET /dir` and `HEAD newNonce`, but no POST, so a
 * fleet waiting on it looks stuck with its locks held.
 */
export async function pebbleAnswersPosts(pebble: Pebble, timeoutMs = 10_000): Promise<boolean> {
  const transport = new AcmeTransport({ directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem, requestTimeoutMs: timeoutMs, retry: { connectionRetries: 0, serverRetries: 0 } });
  try {
    await registerAccount(transport, await generateKeyPair("ec256"));
    return true;
  } catch (error) {
    return !(error instanceof AcmeConnectionError);
  }
}
