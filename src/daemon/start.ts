/**
 * The daemon as a library call: `startDaemon(config)` manages every site of a checked
 * configuration with `manage()`, serves those with an `upstream` over HTTPS (the reverse proxy, by
 * SNI and Host), keeps the others renewed in the store (running their deploy hooks), and answers
 * `/metrics` and `/healthz` on `[admin]`. `reload(next)` builds the next configuration in full
 * while the running one serves, then switches; a failure leaves the running one as it was.
 * `bun-acme serve` is this, with a file, signals and printed events around it.
 */
import { join } from "node:path";
import { systemClock, type TimerClock } from "../acme/index.ts";
import { stampEvent, type LifecycleEvent, type UntimedEvent } from "../lifecycle/index.ts";
import { adminHandler, CertificateMetrics } from "../metrics/index.ts";
import { createWebSocketProxy, serve, type RunningServer } from "../servers/index.ts";
import { defaultLineageName, defaultStoreDir, isSharedStoreLocation, openStore, type CertificateStore } from "../store/index.ts";
import type { ServeConfig, SiteConfig } from "./config.ts";
import { deploy } from "./deploy.ts";
import { Daemon, type GenerationParts } from "./generations.ts";
import { proxyTo } from "./proxy.ts";

/** How a daemon started from code reports, keeps time and opens its store. */
export interface DaemonOptions {
  /**
   * Every event, stamped with {@link clock}: manage()'s (obtained, renewed, failed...), and the
   * daemon's own (`serving`, `config_reloaded`, `warning`, `request` with `access_log`,
   * `proxy_error`, `hook_failed`, `stopped`).
   */
  readonly onEvent?: (event: LifecycleEvent) => void;
  /** Time and timers for the events, renewals and retries (default: the system clock). */
  readonly clock?: TimerClock;
  /** PEM roots that verify the CA when the configuration names no `ca` (default: the system's). */
  readonly ca?: string;
  /** Encrypts private keys in a shared (Redis, PostgreSQL) store: 32 bytes. */
  readonly storeEncryptionKey?: Uint8Array;
  /** Opens a configuration's store instead of `openStore(config.store)` (e.g. an in-memory store in tests). */
  readonly openStore?: (config: ServeConfig) => CertificateStore & { close?(): unknown };
}

/** A running daemon. */
export interface RunningDaemon {
  /** The configuration being served. */
  readonly config: ServeConfig;
  /** The public HTTPS port (useful with port 0). */
  readonly port: number | undefined;
  /** Certificate swaps the HTTPS server has made. */
  readonly swaps: number;
  /** A description of the running configuration's store, for messages. */
  readonly storeDescription: string;
  /**
   * Builds `config` in full, then serves it instead of the running one (reloads run one at a time).
   *
   * @throws whatever building it throws ({@link ConfigError}, `ServerStartError`, a store or CA
   *   error); the running configuration is then untouched
   */
  reload(config: ServeConfig): Promise<void>;
  /** Stops serving (requests in flight finish), the admin server and running deploy hooks. */
  stop(): Promise<void>;
}

/** The lineage a site's certificate is kept under: the store's own rule, as manage() names it. */
const lineageOf = (site: SiteConfig) => defaultLineageName(site.names);

/**
 * Starts the daemon on a checked configuration ({@link parseServeConfig}): binds `[admin]` and
 * `[listen]` first (a taken port fails at once), then obtains or loads every certificate, then serves.
 *
 * @example
 * ```ts
 * const daemon = await startDaemon(readServeConfig("/etc/bun-acme/serve.toml"), { onEvent: (event) => console.log(eventLine(event)) });
 * process.on("SIGHUP", () => void daemon.reload(readServeConfig("/etc/bun-acme/serve.toml")).catch(console.error));
 * ```
 * @throws {ServerStartError} when an address cannot be bound (its `server` says which)
 * @throws {ConfigError} for a TSIG key file that cannot be read, or a `ca` file holding no root (`TrustRootsError`)
 * @throws whatever opening the store or `manage()` throws
 */
export async function startDaemon(config: ServeConfig, options: DaemonOptions = {}): Promise<RunningDaemon> {
  const daemon = new DaemonRun(config, options);
  await daemon.start();
  return daemon;
}

type Say = (event: UntimedEvent | LifecycleEvent) => void;

/** The daemon's configurations one after another, with the metrics and the admin server they share. */
class DaemonRun implements RunningDaemon {
  private running: ServeConfig;
  private readonly say: Say;
  private readonly metrics: CertificateMetrics;
  private readonly daemon: Daemon;
  /** Aborted at stop(): deploy hooks still running are killed. */
  private readonly hooks = new AbortController();
  private admin: RunningServer | undefined;
  private reloading = Promise.resolve();

  constructor(config: ServeConfig, options: DaemonOptions) {
    const clock = options.clock ?? systemClock;
    this.running = config;
    this.say = (event) => options.onEvent?.(stampEvent(event, clock.now()));
    this.metrics = new CertificateMetrics({ issuer: () => this.config.directoryUrl, swaps: () => this.daemon.swaps, now: () => clock.now() });
    this.daemon = new Daemon(generationParts(options, clock, this.say, this.metrics, this.hooks.signal));
  }

  get config(): ServeConfig {
    return this.running;
  }

  get port(): number | undefined {
    return this.daemon.port;
  }

  get swaps(): number {
    return this.daemon.swaps;
  }

  get storeDescription(): string {
    return this.daemon.storeDescription;
  }

  async start(): Promise<void> {
    this.admin = startAdmin(this.config, this.metrics); // bound first: a taken port is said before anything is obtained
    await this.daemon.load(this.config).catch(async (error: unknown) => {
      await this.admin?.stop();
      throw error;
    });
    announce(this.config, this.daemon, this.say);
  }

  reload(next: ServeConfig): Promise<void> {
    const done = this.reloading.then(() => this.switchTo(next));
    this.reloading = done.catch(() => undefined);
    return done;
  }

  async stop(): Promise<void> {
    await this.reloading;
    this.hooks.abort();
    await Promise.all([this.daemon.stop(), this.admin?.stop()]);
    this.say({ type: "stopped" });
  }

  private async switchTo(next: ServeConfig): Promise<void> {
    await this.daemon.load(next); // built in full before the running configuration is touched
    this.metrics.retain(next.sites.map(lineageOf));
    if (JSON.stringify(next.admin) !== JSON.stringify(this.config.admin)) await this.restartAdmin(next);
    this.running = next;
    this.say({ type: "config_reloaded", sites: next.sites.length });
    announce(next, this.daemon, this.say);
  }

  /** A changed `[admin]`: the old address closed, the new one bound; one that cannot be is a warning (the sites still serve). */
  private async restartAdmin(next: ServeConfig): Promise<void> {
    await this.admin?.stop();
    this.admin = undefined;
    try {
      this.admin = startAdmin(next, this.metrics);
    } catch (error) {
      this.say({ type: "warning", message: `admin server not started: ${(error as Error).message}` });
    }
  }
}

/** `/metrics` and `/healthz` on `[admin]`'s address, when the configuration has one. @throws {ServerStartError} */
function startAdmin(config: ServeConfig, metrics: CertificateMetrics): RunningServer | undefined {
  if (!config.admin) return undefined;
  return serve({ name: "admin server", hostname: config.admin.hostname, port: config.admin.port, handler: adminHandler(metrics, { healthMarginMs: config.admin.healthMarginMs }) });
}

/** The store a configuration names: a folder, or a redis:// or postgres:// URL shared by a fleet (keys encrypted with the given key). */
function storeOf(config: ServeConfig, encryptionKey: Uint8Array | undefined): CertificateStore & { close?(): unknown } {
  const location = config.store ?? defaultStoreDir();
  return isSharedStoreLocation(location) && encryptionKey ? openStore(location, { encryptionKey }) : openStore(location);
}

/** What each configuration of the daemon is built from. */
function generationParts(options: DaemonOptions, clock: TimerClock, say: Say, metrics: CertificateMetrics, hooks: AbortSignal): GenerationParts {
  return {
    openStore: options.openStore ?? ((config) => storeOf(config, options.storeEncryptionKey)),
    handler: (config) => {
      const proxy = proxyTo(config, say, () => clock.now());
      return async (request, server) => {
        const response = await proxy(request, server);
        if (response) metrics.observeResponse(response.status);
        return response;
      };
    },
    websocket: createWebSocketProxy({ sites: [] }).websocket,
    ...(options.ca ? { defaultCa: options.ca } : {}),
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
        clock,
        onEvent: (event) => {
          metrics.observe(event);
          say(event);
          const site = event.lineage ? byLineage.get(event.lineage) : undefined;
          if (site?.deployHook && (event.type === "obtained" || event.type === "renewed")) void deploy(site, event, store, say, hooks);
        },
      };
    },
  };
}

/** The `serving` event: where, how many sites, which store. */
function announce(config: ServeConfig, daemon: Daemon, say: (event: UntimedEvent) => void): void {
  say({
    type: "serving", hostname: config.listen.hostname, ...(daemon.port !== undefined ? { port: daemon.port } : {}),
    sites: config.sites.length, served: config.sites.filter((site) => site.upstream).length, store: daemon.storeDescription,
    ...(config.onDemand ? { onDemandSites: config.onDemand.sites.length, ask: config.onDemand.ask } : {}),
  });
}
