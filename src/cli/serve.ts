/**
 * `serve --config FILE`: the daemon (src/daemon) as a command. Reads the configuration, starts the
 * daemon and prints its events (lines, or JSON lines with `--json`). SIGHUP re-reads the
 * configuration (a bad one is reported and the running one kept); SIGTERM and SIGINT drain the
 * server and exit 0. A configuration that cannot start is one line and exit 2.
 */
import { resolve } from "node:path";
import { ConfigError, readServeConfig, startDaemon, type ServeConfig } from "../daemon/index.ts";
import { ServerStartError } from "../servers/index.ts";
import { defaultStoreDir, isSharedStoreLocation } from "../store/index.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { ExitCode } from "./errors.ts";
import { Reporter } from "./report.ts";
import { openCommandStore } from "./store-flag.ts";

/** Everything `serve` needs. */
export interface ServeOptions extends BaseOptions {
  readonly configFile: string;
  readonly json: boolean;
}

/** The `serve` command (the daemon): its flags, parser and run function. */
export const serveCommand: Command<ServeOptions> = {
  name: "serve",
  synopsis: "serve --config FILE [--json]",
  summary: "the daemon: obtain, serve (as an HTTPS reverse proxy) and renew every site of a TOML configuration; SIGHUP re-reads it",
  flags: ["--config", "--json", "--ca"],
  timeoutWhat: "the certificates (--timeout)",
  ownsSignals: true,
  parse(flags) {
    flags.noPositionals();
    return { configFile: resolve(flags.required("--config")), json: flags.has("--json"), caFile: flags.single("--ca"), timeoutSeconds: 86_400 };
  },
  run: runServe,
};

async function runServe(options: ServeOptions, context: CommandContext): Promise<number> {
  const reporter = new Reporter(context.io, options.json);
  const config = readServeConfig(options.configFile); // a ConfigError: exit 2, file and line named
  const starting = startDaemon(config, {
    onEvent: (event) => reporter.report(event),
    ...(context.trust?.pem ? { ca: context.trust.pem } : {}),
    // A folder, or a redis:// or postgres:// URL shared by a fleet; BUN_ACME_STORE_KEY (base64, 32 bytes) encrypts keys there.
    openStore: (next: ServeConfig) => openCommandStore({ location: next.store ?? defaultStoreDir(), shared: !!next.store && isSharedStoreLocation(next.store) }, context.io.env),
  }).catch((error: unknown) => { // at start, a failure is the command's error: one line
    throw error instanceof ServerStartError
      ? new ConfigError(`${error.message}; stop whatever holds it or change [${error.server === "admin server" ? "admin" : "listen"}] in ${options.configFile}`)
      : error;
  });
  // SIGTERM or SIGINT, during the start too: a CA that never answers can hold the start, and a
  // signal that came before the daemon ran must not be missed once it does (the signal is aborted once).
  const stopped = Promise.withResolvers<void>();
  context.signal.addEventListener("abort", () => stopped.resolve(), { once: true });
  if (context.signal.aborted) stopped.resolve();
  const daemon = await Promise.race([starting, stopped.promise.then(() => undefined)]);
  if (daemon === undefined) {
    // Stopped before it served: nothing to drain; the process ends, and what the start bound or held goes with it.
    void starting.then((started) => started.stop(), () => {});
    return ExitCode.OK;
  }
  let reloading = Promise.resolve();
  const onHangup = () => {
    reloading = reloading.then(async () => {
      try {
        await daemon.reload(readServeConfig(options.configFile)).catch((error: unknown) => {
          throw error instanceof ServerStartError ? new Error(`${error.message}; stop whatever holds it or change [listen]`) : error;
        });
      } catch (error) {
        reporter.report({ type: "config_rejected", error: (error as Error).message });
      }
    });
  };
  process.on("SIGHUP", onHangup);
  await stopped.promise;
  process.off("SIGHUP", onHangup);
  await reloading;
  await daemon.stop();
  return ExitCode.OK;
}
