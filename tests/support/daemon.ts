/**
 * The compiled daemon (`dist/bun-acme serve --config FILE`) as the e2e tests run it: the
 * configuration written to a file of its own, the process started, awaited until it serves, told
 * to reload, and stopped; and the loop every daemon test runs to show a renewal fails no request:
 * clients that never retry (tests/support/http_load.py) across renewals of short certificates.
 */
import { expect } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, startClient, type ClientProcess } from "./client.ts";
import { startHttpLoad, type HttpLoadResult } from "./http-load.ts";
import type { LineReader } from "./lines.ts";
import { makeTempDir } from "./temp.ts";

/** The executable the daemon tests run (`bun run build` makes it). */
export const DAEMON_EXECUTABLE = join(ROOT, "dist", "bun-acme");

/** What every daemon test's configuration begins with. */
export interface ConfigHead {
  /** The CA's directory (Pebble's). */
  readonly directoryUrl: string;
  /** The file of roots that verify the CA. */
  readonly caFile: string;
  /** A folder, or a shared store's URL. */
  readonly store: string;
  /** Top-level keys and tables before `[listen]` (e.g. `challenge = "dns-01"`). */
  readonly top?: string;
  /** The HTTP port (default 5002, where Pebble sends http-01 validations). */
  readonly http?: number;
}

/**
 * The head of a daemon test's configuration: the CA, its roots, the store, `top`, then `[listen]`
 * on 127.0.0.1 with HTTPS on 5001 (where Pebble sends tls-alpn-01 validations). The test appends
 * its `[[site]]` tables.
 */
export function configHead(head: ConfigHead): string {
  return `directory = "${head.directoryUrl}"\nca = "${head.caFile}"\nstore = "${head.store}"\n${head.top ?? ""}\n` +
    `[listen]\nhostname = "127.0.0.1"\nhttps = 5001\nhttp = ${head.http ?? 5002}\n`;
}

/** A daemon started by {@link startDaemonProcess}. */
export interface DaemonProcess {
  /** The configuration file (write it again, then {@link reload}). */
  readonly file: string;
  /** A folder of the daemon's own, e.g. for its store. */
  readonly dir: string;
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  readonly exited: Promise<number>;
  /** Writes `config` to the file, sends SIGHUP and resolves with the first line after it that `done` matches. */
  reload(config: string, done: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number>;
  kill(signal?: NodeJS.Signals): void;
}

/** How a daemon is started. */
export interface DaemonStart {
  /** The configuration's text, given the daemon's folder (for its store). */
  readonly config: string | ((dir: string) => string);
  /** `--json`: every line an event, readiness the `serving` event. */
  readonly json?: boolean;
  /** How long obtaining the certificates may take before "serving" (default 45 s). */
  readonly servingTimeoutMs?: number;
  /** A line that means ready instead of the `serving` one (e.g. an `obtained` line). */
  readonly readyLine?: (line: string) => boolean;
}

/** The readiness line: `serving ...`, or with --json the `serving` event. */
const servingLine = (json: boolean) => (line: string) => json ? line.includes(`"event":"serving"`) : line.startsWith("serving ");

/**
 * Writes the configuration, starts the compiled daemon on it and resolves once it serves. When it
 * does not within the time, the error carries everything the daemon printed.
 */
export async function startDaemonProcess(start: DaemonStart): Promise<DaemonProcess> {
  const dir = makeTempDir("bun-acme-daemon-");
  const file = join(dir, "serve.toml");
  writeFileSync(file, typeof start.config === "string" ? start.config : start.config(dir));
  const child = startClient(["serve", "--config", file, ...(start.json ? ["--json"] : [])], { executable: DAEMON_EXECUTABLE });
  const daemon = handle(child, file, dir);
  await child.stdout.waitFor(start.readyLine ?? servingLine(!!start.json), start.servingTimeoutMs ?? 45_000).catch((error) => {
    child.kill("SIGTERM");
    throw new Error(`${(error as Error).message}\n${child.stdout.text()}\n${child.stderr.text()}`);
  });
  return daemon;
}

function handle(child: ClientProcess, file: string, dir: string): DaemonProcess {
  return {
    file,
    dir,
    stdout: child.stdout,
    stderr: child.stderr,
    exited: child.exited,
    kill: (signal) => child.kill(signal),
    reload(config, done, timeoutMs = 45_000) {
      const from = child.stdout.count;
      writeFileSync(file, config);
      child.kill("SIGHUP");
      return child.stdout.waitFor(done, timeoutMs, from);
    },
    async stop() {
      child.kill("SIGTERM");
      return child.exited;
    },
  };
}

/** The load and the renewals to cross. */
export interface RenewalLoad {
  /** The name the clients ask for (SNI and Host), on port 5001. */
  readonly name: string;
  /** The lineage whose `renewed` lines are counted (default `name`). */
  readonly lineage?: string;
  /** Pebble's root: the clients verify the chain and the name. */
  readonly caPem: string;
  /** How many renewals the load crosses (default 2). */
  readonly renewals?: number;
}

/**
 * Starts the clients that never retry (4 keep-alive GET loops, 4 new-connection GET loops, 2
 * keep-alive POST loops), waits for `renewals` successive `LINEAGE: renewed (` lines of the
 * daemon and then for the clients to meet the last one's certificate (10 s at most), and returns
 * what the clients saw.
 */
export async function loadAcrossRenewals(daemon: Pick<DaemonProcess, "stdout">, load: RenewalLoad): Promise<HttpLoadResult> {
  const renewed = (line: string) => line.startsWith(`${load.lineage ?? load.name}: renewed (`);
  const running = await startHttpLoad({ port: 5001, name: load.name, caPem: load.caPem, keepAlive: 4, newConnections: 4, posts: 2 });
  try {
    for (let renewal = 0; renewal < (load.renewals ?? 2); renewal++) await daemon.stdout.waitFor(renewed, 40_000, daemon.stdout.count);
    // The last renewal is saved before its swap reaches new connections: the clients go on until they met it.
    await running.seenSerials((load.renewals ?? 2) + 1, 10_000);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running.stop();
}

/**
 * What a load across renewals must show: no failed request, no client error, more than
 * `moreThan` answers, and at least `serials` certificates (the first and each renewal's).
 */
export function expectNoFailedRequest(seen: HttpLoadResult, options: { readonly moreThan: number; readonly serials?: number }): void {
  expect(seen.errors).toEqual({});
  expect(seen.failed).toBe(0);
  expect(seen.ok).toBeGreaterThan(options.moreThan);
  if (options.serials !== undefined) expect(seen.serials.length).toBeGreaterThanOrEqual(options.serials);
}
