/**
 * Load from clients that never retry (tests/support/http_load.py, Python's http.client): Bun's
 * fetch silently retries a request whose reused connection closed, so it cannot show a dropped
 * request. Each client kind loops until {@link HttpLoad.stop}.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "./lines.ts";
import { makeTempDir } from "./temp.ts";

/** What the clients saw. */
export interface HttpLoadResult {
  readonly ok: number;
  readonly failed: number;
  /** Failures by exception type and message. */
  readonly errors: Record<string, number>;
  /** Serial numbers (hex) of the certificates the clients were shown. */
  readonly serials: readonly string[];
}

/** A running load. */
export interface HttpLoad {
  /** Resolves once the clients have met `count` different certificates, or after `timeoutMs` (the caller's assertion then fails). */
  seenSerials(count: number, timeoutMs: number): Promise<void>;
  /** Stops the clients and returns what they saw. */
  stop(): Promise<HttpLoadResult>;
}

/** Where and how hard. */
export interface HttpLoadOptions {
  readonly port: number;
  /** Sent as SNI and Host, and verified against `caPem`. */
  readonly name: string;
  readonly caPem: string;
  readonly host?: string;
  readonly keepAlive?: number;
  readonly newConnections?: number;
  readonly posts?: number;
  readonly path?: string;
}

/** Starts the clients; resolves once they run. */
export async function startHttpLoad(options: HttpLoadOptions): Promise<HttpLoad> {
  const caFile = join(makeTempDir("http-load"), "roots.pem");
  writeFileSync(caFile, options.caPem);
  const child = Bun.spawn(["python3", join(import.meta.dir, "http_load.py"), "--port", String(options.port), "--name", options.name, "--ca", caFile,
    "--host", options.host ?? "127.0.0.1", "--keep-alive", String(options.keepAlive ?? 4), "--new", String(options.newConnections ?? 4),
    "--post", String(options.posts ?? 2), "--path", options.path ?? "/"], { stdout: "pipe", stderr: "pipe" });
  const stderr = new LineReader(child.stderr);
  await stderr.waitFor((line) => line === "started", 10_000);
  return {
    async seenSerials(count, timeoutMs) {
      const seen = () => stderr.text().split("\n").filter((line) => line.startsWith("serial ")).length;
      if (seen() >= count) return;
      // Each new serial is a line: wait for lines until enough were seen (or the time is up: the caller's assertion says so).
      const deadline = Date.now() + timeoutMs;
      while (seen() < count && Date.now() < deadline) await stderr.waitFor((line) => line.startsWith("serial "), deadline - Date.now(), stderr.count).catch(() => undefined);
    },
    async stop() {
      child.kill("SIGTERM");
      const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      const line = text.trim().split("\n").pop() ?? "";
      if (!line.startsWith("{")) throw new Error(`the load clients printed no result (exit ${child.exitCode}): ${stderr.text().slice(-400)}`);
      return JSON.parse(line) as HttpLoadResult;
    },
  };
}
