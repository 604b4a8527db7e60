/**
 * `serve --config FILE`: the daemon. Manages every site of the configuration with `manage()`:
 * sites with an `upstream` are served over HTTPS (a reverse proxy, by SNI and Host), the others
 * are only kept renewed in the store, with their deploy hook run after each renewal. SIGHUP
 * re-reads the configuration (a bad one is reported and the running one kept); SIGTERM and SIGINT
 * drain the server and exit 0.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { failureOf, type EventSubject, type LifecycleEvent, type UntimedEvent } from "../lifecycle/index.ts";
import { decodeBase64 } from "../encoding/index.ts";
import { createReverseProxy, createWebSocketProxy, isWebSocketUpgrade, type ProxySite, type ReverseProxyOptions } from "../servers/index.ts";
import { defaultLineageName, defaultStoreDir, isSharedStoreLocation, type CertificateStore } from "../store/index.ts";
import { adminHandler, CertificateMetrics } from "../metrics/index.ts";
import { serve as serveHttp, ServerStartError, type RunningServer } from "../servers/index.ts";
import { Daemon, type DaemonHandler, type GenerationParts } from "./daemon.ts";
import { openCommandStore } from "./store-flag.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { ExitCode } from "./errors.ts";
import { DEFAULT_HOOK_TIMEOUT_SECONDS, deployHookEnv, runHook } from "../hooks/index.ts";
import { describeHookFailure } from "./hooks.ts";
import { withLineageFolder } from "./lineage-run.ts";
import { Reporter } from "./report.ts";
import { ConfigError, parseServeConfig, type ServeConfig, type SiteConfig } from "./serve-config.ts";

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

/** Reads and checks the configuration file. @throws {ConfigError} */
function readConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseServeConfig(text, file);
}

async function runServe(options: ServeOptions, context: CommandContext): Promise<number> {
  const { io } = context;
  const reporter = new Reporter(io, options.json);
  const say: Say = (event) => reporter.report(event);
  const config = readConfig(options.configFile); // a ConfigError: exit 2, file and line named
  let running = config;
  const metrics = new CertificateMetrics({ issuer: () => running.directoryUrl, swaps: () => daemon.swaps });
  const daemon: Daemon = new Daemon(generationParts(context, say, metrics));
  let admin = startAdminAt(config, metrics, options.configFile); // bound first: a taken port is said before anything is obtained
  await daemon.load(config).catch((error: unknown) => { // at start, a failure is the command's error: one line
    void admin?.stop();
    throw error instanceof ServerStartError ? new ConfigError(`${error.message}; stop whatever holds it or change [listen] in ${options.configFile}`) : error;
  });
  announce(config, daemon, say);
  const stopped = Promise.withResolvers<void>();
  let reloading = Promise.resolve();
  const onHangup = () => {
    reloading = reloading.then(async () => {
      let next: ServeConfig;
      try {
        next = readConfig(options.configFile);
        await daemon.load(next).catch((error: unknown) => { // built in full before the running configuration is touched
          throw error instanceof ServerStartError ? new Error(`${error.message}; stop whatever holds it or change [listen]`) : error;
        });
      } catch (error) {
        const message = (error as Error).message;
        say({ type: "config_rejected", error: message });
        return;
      }
      metrics.retain(next.sites.map(lineageOf));
      if (JSON.stringify(next.admin) !== JSON.stringify(running.admin)) {
        await admin?.stop();
        admin = undefined;
        try {
          admin = startAdmin(next, metrics);
        } catch (error) {
          say({ type: "warning", message: `admin server not started: ${(error as Error).message}` });
        }
      }
      running = next;
      say({ type: "config_reloaded", sites: next.sites.length });
      announce(next, daemon, say);
    });
  };
  process.on("SIGHUP", onHangup);
  context.signal.addEventListener("abort", () => stopped.resolve(), { once: true });
  await stopped.promise;
  process.off("SIGHUP", onHangup);
  await reloading;
  await Promise.all([daemon.stop(), admin?.stop()]);
  say({ type: "stopped" });
  return ExitCode.OK;
}

/** Prints one event: its line, or its JSON line with --json. */
type Say = (event: UntimedEvent | LifecycleEvent) => void;

/** The lineage a site's certificate is kept under: the store's own rule, as manage() names it. */
const lineageOf = (site: SiteConfig) => defaultLineageName(site.names);

/** `/metrics` and `/healthz` on `[admin]`'s address, when the configuration has one. @throws {ServerStartError} */
function startAdmin(config: ServeConfig, metrics: CertificateMetrics): RunningServer | undefined {
  if (!config.admin) return undefined;
  return serveHttp({ name: "admin server", hostname: config.admin.hostname, port: config.admin.port, handler: adminHandler(metrics, { healthMarginMs: config.admin.healthMarginMs }) });
}

/** {@link startAdmin} at start: a port that cannot be bound is the configuration's fault, said as such. */
function startAdminAt(config: ServeConfig, metrics: CertificateMetrics, file: string): RunningServer | undefined {
  try {
    return startAdmin(config, metrics);
  } catch (error) {
    throw error instanceof ServerStartError ? new ConfigError(`${error.message}; stop whatever holds it or change [admin] in ${file}`) : error;
  }
}

/** What each configuration of the daemon is built from. */
function generationParts(context: CommandContext, say: Say, metrics: CertificateMetrics): GenerationParts {
  return {
    // A folder, or a redis:// or postgres:// URL shared by a fleet; BUN_ACME_STORE_KEY (base64, 32 bytes) encrypts keys there.
    openStore: (config) => openCommandStore({ location: config.store ?? defaultStoreDir(), shared: !!config.store && isSharedStoreLocation(config.store) }, context.io.env),
    handler: (config) => {
      const proxy = proxyTo(config, say);
      return async (request, server) => {
        const response = await proxy(request, server);
        if (response) metrics.observeResponse(response.status);
        return response;
      };
    },
    websocket: createWebSocketProxy({ sites: [] }).websocket,
    ...(context.trust?.pem ? { defaultCa: context.trust.pem } : {}),
    onRejected: (names, reason) => say({ type: "warning", names, message: `not served (${reason}); the other sites are` }),
    manageOptions: (config, store) => {
      // A shared store's certificates are also kept in a local folder, served from there when the store is unreachable at start.
      const cache = config.store && isSharedStoreLocation(config.store) ? config.cache ?? join(defaultStoreDir(), "cache") : undefined;
      const byLineage = new Map(config.sites.map((site) => [lineageOf(site), site]));
      return {
        ...(cache ? { cache } : {}),
        hostname: config.listen.hostname,
        ports: { https: config.listen.https, http: config.listen.http },
        keyType: config.keyType,
        contact: config.contact,
        onEvent: (event) => {
          metrics.observe(event);
          say(event);
          const site = event.lineage ? byLineage.get(event.lineage) : undefined;
          if (site?.deployHook && (event.type === "obtained" || event.type === "renewed")) void deploy(site, event, store, say, context.signal);
        },
      };
    },
  };
}

function announce(config: ServeConfig, daemon: Daemon, say: Say): void {
  say({
    type: "serving", hostname: config.listen.hostname, ...(daemon.port !== undefined ? { port: daemon.port } : {}),
    sites: config.sites.length, served: config.sites.filter((site) => site.upstream).length, store: daemon.storeDescription,
    ...(config.onDemand ? { onDemandSites: config.onDemand.sites.length, ask: config.onDemand.ask } : {}),
  });
}

/**
 * Runs a site's deploy hook (from the daemon's own configuration file, never from the store) with
 * RENEWED_LINEAGE a folder holding the certificate: the store's own, or for a shared store a
 * private copy removed afterwards. Stopped with the daemon, or after the hook time limit.
 */
async function deploy(site: SiteConfig, event: EventSubject, store: CertificateStore, say: Say, signal: AbortSignal): Promise<void> {
  const subject = { lineage: event.lineage, names: event.names, ...(event.ca ? { ca: event.ca } : {}) };
  const lineage = await store.load(event.lineage).catch((error: Error) => {
    say({ type: "hook_failed", hook: "deploy", ...subject, ...failureOf(error, `deploy hook not run: cannot read the lineage (${error.message})`) });
    return undefined;
  });
  if (!lineage) return;
  const result = await withLineageFolder(store.locate(event.lineage), lineage, (folder) =>
    runHook(site.deployHook!, deployHookEnv(folder, event.names), { signal, timeoutMs: DEFAULT_HOOK_TIMEOUT_SECONDS * 1000 }));
  if (result.exitCode !== 0) say({ type: "hook_failed", hook: "deploy", ...subject, error: describeHookFailure("deploy", result), exitCode: result.exitCode, output: result.tail });
}

/** The proxy's sites: those listed with an upstream, then the on-demand ones (a `*` one, taking every other name, last). */
function proxySites(config: ServeConfig): ProxySite[] {
  const listed = config.sites.flatMap((site) => site.upstream === undefined ? [] : [{ ...site, names: site.names.map((name) => name.value), upstream: site.upstream }]);
  const onDemand = (config.onDemand?.sites ?? []).map((site) => ({ ...site, names: site.patterns }))
    .toSorted((a, b) => Number(a.names.includes("*")) - Number(b.names.includes("*")));
  return [...listed, ...onDemand].map((site) => ({
    names: site.names,
    upstream: site.upstream,
    ...(site.connectTimeoutMs ? { connectTimeoutMs: site.connectTimeoutMs } : {}),
    ...(site.responseHeaderTimeoutMs ? { responseHeaderTimeoutMs: site.responseHeaderTimeoutMs } : {}),
    ...(site.maxRequests ? { maxRequests: site.maxRequests } : {}),
  }));
}

/**
 * The sites with an upstream, behind the library's reverse proxy (the site chosen by SNI and Host),
 * WebSocket upgrades included (RFC 6455, proxied to the same upstream).
 * Upstream failures are reported (the client's page names nothing internal); with `access_log`,
 * every request is, as one JSON line.
 */
function proxyTo(config: ServeConfig, say: Say): DaemonHandler {
  const options: ReverseProxyOptions = {
    sites: proxySites(config),
    trustedProxies: config.trustedProxies,
    onRequest: (entry) => {
      if (config.accessLog) say({ type: "request", ...entry });
      else if (entry.error === "upstream_error" || entry.error === "unreachable" || entry.error === "timeout") {
        say({ type: "proxy_error", ...(entry.host ? { host: entry.host } : {}), status: entry.status, error: entry.error, ...(entry.detail ? { detail: entry.detail } : {}) });
      }
    },
  };
  const proxy = createReverseProxy(options);
  const sockets = createWebSocketProxy(options);
  return (request, server) => {
    const connection = { clientAddress: server.requestIP(request)?.address, tls: true };
    return isWebSocketUpgrade(request) ? sockets.upgrade(request, server, connection) : proxy(request, connection);
  };
}
