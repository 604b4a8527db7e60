/**
 * The `serve` daemon's configurations, each one a generation: its store, its `manage()`, its proxy
 * and its http-01 answers, on listeners that outlive it. A reload builds the next generation in
 * full (trust roots read, store opened, certificates loaded or obtained) while the running one
 * keeps serving, then switches in one step: the HTTPS server is told the new certificates (a swap
 * that fails no request) and the handlers point at the new generation; only then does the old one
 * stop. Anything that fails before the switch leaves the running generation as it was.
 */
import { readFileSync } from "node:fs";
import type { ChallengeSolver } from "../acme/index.ts";
import { ACME_TLS_ALPN_PROTOCOL, ExecDnsSolver, Http01Solver, Rfc2136Solver, TlsAlpn01Solver, type PemCertificate } from "../challenges/index.ts";
import { parseTsigKey, type TsigKey } from "../dns/index.ts";
import { askEndpoint, manage, redirectingHandler, SharedHttp01Solver, SharedTlsAlpn01Solver, tlsAlpnLookup, type Managed, type ManageOptions, type OnDemandOptions } from "../manage/index.ts";
import { AlpnRouter, CertificateServerView, hostNameMatches, HotTlsServer, IdleCollector, serve, TlsFrontServer, withClientAddresses, type RunningServer, type ServedCertificate, type WebSocketProxyData } from "../servers/index.ts";
import type { CertificateStore } from "../store/index.ts";
import { readTrustRoots } from "../trust/index.ts";
import { ConfigError, type ServeConfig } from "./serve-config.ts";

/** An HTTPS handler; undefined once it upgraded the request to a WebSocket. */
export type DaemonHandler = (request: Request, server: Bun.Server<WebSocketProxyData>) => Response | undefined | Promise<Response | undefined>;
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
 * Which HTTPS server a configuration needs: on-demand names need a certificate chosen (or
 * obtained) during the handshake, which only the `node:tls` front can do; otherwise `Bun.serve`
 * backends swapped by HotTlsServer (HTTP/2, no extra hop).
 */
const frontOf = (config: ServeConfig): "tls-front" | "hot-tls" => (config.onDemand ? "tls-front" : "hot-tls");

/** The `[listen]` addresses and the kind of HTTPS server: what listeners are kept across reloads for. */
const listenersKey = (config: ServeConfig) => `${config.listen.hostname} ${config.listen.https} ${config.listen.http} ${config.listen.http2} ${frontOf(config)} ${config.challenge === "tls-alpn-01"}`;

/**
 * The on-demand decision of a configuration: the name is covered by an `on_demand = true` site,
 * then its `ask` endpoint says 2xx (remembered for a minute).
 */
function onDemandAllow(onDemand: NonNullable<ServeConfig["onDemand"]>): (name: string) => Promise<boolean> {
  const ask = askEndpoint({ url: onDemand.ask });
  const patterns = onDemand.sites.flatMap((site) => site.patterns);
  return async (name) => patterns.some((pattern) => pattern === "*" || hostNameMatches(pattern, name)) && ask(name);
}

/** One running configuration. */
interface Generation {
  readonly solver: ChallengeSolver;
  readonly config: ServeConfig;
  readonly view: CertificateServerView;
  readonly handler: Handler;
  readonly answerHttp: (request: Request) => Response | Promise<Response>;
  /** With tls-alpn-01: this generation's validation certificates, by server name. */
  readonly alpnLookup?: (serverName: string) => Promise<PemCertificate | undefined>;
  /** With `[on_demand]`: whether a name may be obtained during its handshake. */
  readonly allowOnDemand?: (name: string) => Promise<boolean>;
  managed?: Managed;
  readonly store: CertificateStore & { close?(): unknown };
}

/**
 * The two listeners, kept across reloads that do not change `[listen]`, `[on_demand]`'s presence
 * (which HTTPS server) or tls-alpn-01's (a router in front of it).
 */
class Listeners {
  readonly key: string;
  readonly front: ReturnType<typeof frontOf>;
  /** The HTTPS address as configured. */
  readonly address: string;
  readonly https: HotTlsServer<WebSocketProxyData> | TlsFrontServer<WebSocketProxyData>;
  readonly http: RunningServer;
  /** With tls-alpn-01: the public listener, which hands `acme-tls/1` ClientHellos to the validation responder and the rest to `https` on loopback. */
  readonly router: AlpnRouter | undefined;
  private readonly facades = new WeakMap<Bun.Server<WebSocketProxyData>, Bun.Server<WebSocketProxyData>>();
  /** Newest first: the generation being built (answering its http-01 challenges) and the running one. */
  readonly generations: Generation[] = [];

  constructor(config: ServeConfig, onRejected: GenerationParts["onRejected"], websocket: GenerationParts["websocket"]) {
    const { hostname, https, http } = config.listen;
    this.key = listenersKey(config);
    this.front = frontOf(config);
    this.address = `${hostname}:${https}`;
    const fetch = (request: Request, server: Bun.Server<WebSocketProxyData>) => this.route(request, server);
    this.router = config.challenge === "tls-alpn-01"
      ? new AlpnRouter({ hostname, port: https, protocol: ACME_TLS_ALPN_PROTOCOL, certificateFor: (serverName) => this.validationCertificate(serverName) })
      : undefined;
    // Behind the router, the HTTPS server listens on loopback only.
    const [httpsHostname, httpsPort] = this.router ? ["127.0.0.1", 0] : [hostname, https];
    this.https = this.front === "tls-front"
      ? new TlsFrontServer<WebSocketProxyData>({ hostname: httpsHostname, port: httpsPort, fetch, ...(websocket ? { websocket } : {}), onUnknownName: (name) => this.onDemand(name) })
      : new HotTlsServer<WebSocketProxyData>({
        hostname: httpsHostname, port: httpsPort, http2: config.listen.http2, fetch, idleCollector: new IdleCollector(),
        ...(websocket ? { websocket } : {}),
        ...(onRejected ? { onRejected: (certificate, reason) => onRejected(certificate.names, reason) } : {}),
      });
    this.http = serve({ name: "http-01 and redirect server", hostname, port: http, handler: (request) => this.answerHttp(request) });
  }

  /** The public HTTPS port (useful with port 0). */
  get port(): number {
    return this.router?.port ?? this.https.port;
  }

  /**
   * Binds the HTTPS port (and, with tls-alpn-01, the router in front of it); names get no
   * certificate until their generation serves one.
   *
   * @throws {ServerStartError} when an address cannot be bound
   */
  async bind(): Promise<void> {
    await this.https.serve([]);
    await this.router?.listen(this.https.port);
  }

  /** HTTPS requests go to the running generation (or, before the first switch, the one being built). */
  private route(request: Request, server: Bun.Server<WebSocketProxyData>): ReturnType<Handler> {
    const generation = this.generations.find((candidate) => candidate.view.isActive) ?? this.generations[0];
    if (!generation) return new Response("Starting\n", { status: 503, headers: { "retry-after": "1" } });
    return generation.handler(request, this.router ? this.facadeOf(server) : server);
  }

  /** The server as the handler should see it behind the router: `requestIP()` says the client's address, not the router's. */
  private facadeOf(server: Bun.Server<WebSocketProxyData>): Bun.Server<WebSocketProxyData> {
    let facade = this.facades.get(server);
    if (!facade) {
      const router = this.router!;
      facade = withClientAddresses(server, (port) => router.clientAddress(port));
      this.facades.set(server, facade);
    }
    return facade;
  }

  /** A tls-alpn-01 validation certificate from whichever generation presents it (newest first). */
  private async validationCertificate(serverName: string): Promise<PemCertificate | undefined> {
    for (const generation of this.generations) {
      const certificate = await generation.alpnLookup?.(serverName);
      if (certificate) return certificate;
    }
    return undefined;
  }

  /** A handshake for a name without a certificate: the running generation's on-demand decision, and its issuance. */
  private onDemand(name: string): Promise<ServedCertificate | undefined> {
    const generation = this.generations.find((candidate) => candidate.view.isActive);
    return generation?.managed?.certificateOnDemand?.(name) ?? Promise.resolve(undefined);
  }

  /** An http-01 answer from whichever generation holds it (newest first), else the newest one's redirect. */
  private async answerHttp(request: Request): Promise<Response> {
    let answer: Response | undefined;
    for (const generation of this.generations) {
      answer = await generation.answerHttp(request);
      if (answer.status !== 404) return answer;
    }
    return answer ?? new Response("Not Found\n", { status: 404 });
  }

  async stop(): Promise<void> {
    this.router?.stopListening();
    await Promise.allSettled([this.https.stop(), this.http.stop()]);
    await this.router?.stop();
  }
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
      // Bound before anything is obtained: a taken port is said at once, and names get the placeholder until their certificate.
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
        ...(config.onDemand && generation.allowOnDemand ? { onDemand: { allow: generation.allowOnDemand, maxPerMinute: config.onDemand.maxPerMinute } satisfies OnDemandOptions } : {}),
        directoryUrl: config.directoryUrl,
        ...(ca ? { ca } : {}),
        ...(issuers.length > 0 ? { issuers } : {}),
        store: generation.store,
        server: generation.view,
        challenge: generation.solver,
      });
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
