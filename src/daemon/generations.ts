/**
 * The daemon's configurations, each one a generation: its store, its `manage()`, its proxy
 * and its http-01 answers, on listeners that outlive it. A reload builds the next generation in
 * full (trust roots read, store opened, certificates loaded or obtained) while the running one
 * keeps serving, then switches in one step: the HTTPS server is told the new certificates (a swap
 * that fails no request) and the handlers point at the new generation; only then does the old one
 * stop. Anything that fails before the switch leaves the running generation as it was.
 */
import { readFileSync } from "node:fs";
import type { ChallengeSolver } from "../acme/index.ts";
import { ExecDnsSolver, Http01Solver, Rfc2136Solver, TlsAlpn01Solver } from "../challenges/index.ts";
import { parseTsigKey, type TsigKey } from "../dns/index.ts";
import { askEndpoint, manage, redirectingHandler, SharedHttp01Solver, SharedTlsAlpn01Solver, tlsAlpnLookup, type ManageOptions, type OnDemandOptions } from "../manage/index.ts";
import { CertificateServerView, hostNameMatches, type WebSocketProxyData } from "../servers/index.ts";
import type { CertificateStore } from "../store/index.ts";
import { readTrustRoots } from "../trust/index.ts";
import { ConfigError, type ServeConfig } from "./config.ts";
import { frontOf, listenersKey, Listeners, type DaemonHandler, type Generation } from "./listeners.ts";

export type { DaemonHandler } from "./listeners.ts";
type Handler = DaemonHandler;

/** What one configuration needs from the command around it. */
export interface GenerationParts {
  /** Opens the configuration's store (a folder, or a shared store's URL). */
  openStore(config: ServeConfig): CertificateStore & { close?(): unknown };
  /** The HTTPS handler for the configuration's sites (the reverse proxy). */
  handler(config: ServeConfig): Handler;
  /** manage() options beyond the certificates, store, server and challenge (events, cache, roots...). */
  manageOptions(config: ServeConfig, store: CertificateStore, ca: string | undefined): Omit<ManageOptions, "store" | "server" | "challenge" | "fetch" | "certificates" | "directoryUrl">;
  /** The WebSocket handlers of the HTTPS listeners (they act on each socket's own data, whatever the configuration). */
  readonly websocket?: Bun.WebSocketHandler<WebSocketProxyData>;
  /** PEM roots that verify the CA when the configuration names none. */
  readonly defaultCa?: string;
  /** Told when the HTTPS server leaves a certificate out because it cannot be served (its key is another's). */
  readonly onRejected?: (names: readonly string[], reason: string) => void;
}

/** dns-01 through the configuration's name server (RFC 2136, TSIG key read now) or hook. @throws when the key file cannot be read or parsed */
function dnsSolver(dns: NonNullable<ServeConfig["dns"]>): ChallengeSolver {
  if (dns.kind === "hook") return new ExecDnsSolver(dns.command);
  let tsig: TsigKey | undefined;
  if (dns.tsigKeyFile) {
    try {
      tsig = parseTsigKey(readFileSync(dns.tsigKeyFile, "utf8"));
    } catch (error) {
      throw new ConfigError(`[rfc2136] tsig_key_file ${dns.tsigKeyFile}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  }
  return new Rfc2136Solver({ server: dns.server, port: dns.port, ...(tsig ? { tsig } : {}) });
}

/**
 * The on-demand decision of a configuration: the name is covered by an `on_demand = true` site,
 * then its `ask` endpoint says 2xx (remembered for a minute).
 */
function onDemandAllow(onDemand: NonNullable<ServeConfig["onDemand"]>): (name: string) => Promise<boolean> {
  const ask = askEndpoint({ url: onDemand.ask });
  const covers = onDemandCovers(onDemand);
  return async (name) => covers(name) && ask(name);
}

/** Whether an `on_demand = true` site's patterns cover the name. */
function onDemandCovers(onDemand: NonNullable<ServeConfig["onDemand"]>): (name: string) => boolean {
  const patterns = onDemand.sites.flatMap((site) => site.patterns);
  return (name) => patterns.some((pattern) => pattern === "*" || hostNameMatches(pattern, name));
}

/**
 * Runs the daemon's configurations one after another on shared listeners.
 */
export class Daemon {
  private readonly parts: GenerationParts;
  private listeners: Listeners | undefined;
  private running: Generation | undefined;

  constructor(parts: GenerationParts) {
    this.parts = parts;
  }

  /** Certificate swaps the HTTPS server has made, across reloads that kept it. */
  get swaps(): number {
    return this.listeners?.https.swaps ?? 0;
  }

  /** The HTTPS port (useful with port 0). */
  get port(): number | undefined {
    return this.listeners?.port;
  }

  /** The running configuration's store, for messages. */
  get storeDescription(): string {
    return this.running?.store.description ?? "";
  }

  /**
   * Builds `config` completely, then switches to it and stops the previous configuration. On any
   * error before the switch, the running configuration is untouched and the error is thrown.
   *
   * @throws {ServerStartError} when a changed `[listen]` address cannot be bound
   * @throws whatever reading a `ca` file, opening the store or `manage()` throws
   */
  async load(config: ServeConfig): Promise<void> {
    const reuse = this.listeners?.key === listenersKey(config);
    if (this.listeners && !reuse && this.listeners.address === `${config.listen.hostname}:${config.listen.https}`) {
      if (this.listeners.front !== frontOf(config)) throw new ConfigError(`[on_demand] turned ${config.onDemand ? "on" : "off"}: that changes the HTTPS server on port ${config.listen.https} (node:tls front or Bun.serve); restart the daemon to apply it`);
      if ((this.listeners.router !== undefined) !== (config.challenge === "tls-alpn-01")) throw new ConfigError(`challenge = "tls-alpn-01" turned ${config.challenge === "tls-alpn-01" ? "on" : "off"}: that changes the listener on port ${config.listen.https}; restart the daemon to apply it`);
    }
    const listeners = reuse ? this.listeners! : new Listeners(config, this.parts.onRejected, this.parts.websocket);
    if (!reuse) {
      // Bound before anything is obtained: a taken port is said at once, and names get no certificate until theirs.
      await listeners.bind().catch(async (error: unknown) => {
        await listeners.stop();
        throw error;
      });
    }
    let generation: Generation | undefined;
    try {
      const ca = config.ca ? readTrustRoots(config.ca) : this.parts.defaultCa;
      const issuers = config.issuers.map((issuer) => {
        const roots = issuer.ca ? readTrustRoots(issuer.ca) : this.parts.defaultCa;
        return { directoryUrl: issuer.directoryUrl, ...(roots ? { ca: roots } : {}), ...(issuer.eab ? { eab: issuer.eab } : {}) };
      });
      generation = this.prepare(config, listeners, !reuse);
      listeners.generations.unshift(generation);
      generation.managed = await manage({
        ...this.parts.manageOptions(config, generation.store, ca),
        certificates: config.sites.map((site) => ({ names: site.names.map((name) => name.value), serve: site.upstream !== undefined })),
        ...(config.onDemand && generation.allowOnDemand ? { onDemand: { allow: generation.allowOnDemand, covers: onDemandCovers(config.onDemand), maxPerMinute: config.onDemand.maxPerMinute } satisfies OnDemandOptions } : {}),
        directoryUrl: config.directoryUrl,
        ...(ca ? { ca } : {}),
        ...(issuers.length > 0 ? { issuers } : {}),
        store: generation.store,
        server: generation.view,
        challenge: generation.solver,
      });
      if (!reuse) await listeners.presentAnything();
    } catch (error) {
      if (generation) await this.retire(generation, listeners);
      if (!reuse) await listeners.stop();
      throw error;
    }
    await this.switchTo(generation, listeners);
  }

  /** Stops serving: no new connections; requests in flight finish. */
  async stop(): Promise<void> {
    const running = this.running;
    this.running = undefined;
    if (running && this.listeners) await this.retire(running, this.listeners);
    await this.listeners?.stop();
    this.listeners = undefined;
  }

  private prepare(config: ServeConfig, listeners: Listeners, fresh: boolean): Generation {
    const dns = config.dns ? dnsSolver(config.dns) : undefined; // before the store: a TSIG key that cannot be read opens nothing
    const store = this.parts.openStore(config);
    const local = new Http01Solver();
    const shared = store.sharedChallenges?.();
    const alpn = config.challenge === "tls-alpn-01" ? new TlsAlpn01Solver() : undefined;
    const allowOnDemand = config.onDemand ? onDemandAllow(config.onDemand) : undefined;
    const listed = (name: string) => config.sites.some((site) => site.upstream !== undefined && site.names.some((pattern) => hostNameMatches(pattern.value, name)));
    return {
      config,
      store,
      solver: dns ?? (alpn ? new SharedTlsAlpn01Solver(alpn, shared) : shared ? new SharedHttp01Solver(local, shared) : local),
      ...(alpn ? { alpnLookup: tlsAlpnLookup(alpn, shared) } : {}),
      // Nothing else serves on fresh listeners: their first generation presents at once.
      view: new CertificateServerView(listeners.https, { active: fresh }),
      handler: this.parts.handler(config),
      // The HTTP port redirects only the names this configuration serves (on-demand ones once ask allows them): never an open redirect.
      answerHttp: redirectingHandler(local, shared, config.listen.https, async (name) => listed(name) || (allowOnDemand !== undefined && await allowOnDemand(name))),
      ...(allowOnDemand ? { allowOnDemand } : {}),
    };
  }

  private async switchTo(generation: Generation, listeners: Listeners): Promise<void> {
    const previous = this.running;
    const previousListeners = this.listeners;
    await generation.view.activate();
    previous?.view.deactivate();
    this.running = generation;
    this.listeners = listeners;
    if (previous) await this.retire(previous, previousListeners!);
    if (previousListeners && previousListeners !== listeners) await previousListeners.stop();
  }

  /** Stops a generation that is not (or no longer) the running one. */
  private async retire(generation: Generation, listeners: Listeners): Promise<void> {
    generation.view.deactivate();
    const index = listeners.generations.indexOf(generation);
    if (index >= 0) listeners.generations.splice(index, 1);
    await generation.managed?.stop();
    await generation.store.close?.();
  }
}
