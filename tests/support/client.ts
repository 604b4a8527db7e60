/**
 * Runs the real bun-acme command line as a child process, as a user would.
 */
import { join } from "node:path";
import { LineReader } from "./lines.ts";

/** The repository root. */
export const ROOT = join(import.meta.dir, "..", "..");

/** A running client. */
export interface ClientProcess {
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  readonly exited: Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/** The readiness line printed once the certificate is served. */
export const SERVING_LINE = "Serving the certificate on";

/**
 * Starts `bun run src/main.ts ...args` (or the given executable) with the ETH default ports on 127.0.0.1.
 */
export function startClient(args: readonly string[], options: { executable?: string; env?: Record<string, string>; cwd?: string } = {}): ClientProcess {
  const command = options.executable ? [options.executable, ...args] : [process.execPath, "run", join(ROOT, "src", "main.ts"), ...args];
  const child = Bun.spawn(command, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  return {
    stdout: new LineReader(child.stdout),
    stderr: new LineReader(child.stderr),
    exited: child.exited,
    kill: (signal) => child.kill(signal),
  };
}

/** Runs the client to completion and returns its exit code and output. */
export async function runClient(args: readonly string[], options: Parameters<typeof startClient>[1] = {}) {
  const client = startClient(args, options);
  const code = await client.exited;
  await Promise.all([client.stdout.done, client.stderr.done]);
  return { code, stdout: client.stdout.text(), stderr: client.stderr.text() };
}

/** GET /shutdown on the shutdown server. */
export async function requestShutdown(port = 5003): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/shutdown`);
}
