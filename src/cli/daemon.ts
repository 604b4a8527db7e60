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
import { ExecDnsSolver, Http01Solver, Rfc2136Solver } from "../challenges/index.ts";
import { parseTsigKey, type TsigKey } from "../dns/index.ts";
import { manage, redirectingHandler, SharedHttp01Solver, type Managed, type ManageOptions } from "../manage/index.ts";
import { CertificateServerView, hostNameMatches, HotTlsServer, serve, type RunningServer, type WebSocketProxyData } from "../servers/index.ts";
import type { CertificateStore } from "../store/index.ts";
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

/** One running configuration. */
interface Generation {
  readonly solver: ChallengeSolver;
  readonly config: ServeConfig;
  readonly view: CertificateServerView;
  readonly handler: Handler;
  readonly answerHttp: (request: Request) => Response | Promise<Response>;
  managed?: Managed;
  readonly store: CertificateStore & { close?(): unknown };
}

/** The two listeners, kept across reloads that do not change `[listen]`. */
class Listeners {
  readonly key: string;
  readonly https: HotTlsServer<WebSocketProxyData>;
  readonly http: RunningServer;
  /** Newest first: the generation being built (answering its http-01 challenges) and the running one. */
  readonly generations: Generation[] = [];

  constructor(config: ServeConfig, onRejected: GenerationParts["onRejected"], websocket: GenerationParts["websocket"]) {
    const { hostname, https, http } = config.listen;
    this.key = `${hostname} ${https} ${http} ${config.listen.http2}`;
    this.https = new HotTlsServer<WebSocketProxyData>({
      hostname, port: https, http2: config.listen.http2, fetch: (request, server) => this.route(request, server),
      ...(websocket ? { websocket } : {}),
      ...(onRejected ? { onRejected: (certificate, reason) => onRejected(certificate.names, reason) } : {}),
    });
    this.http = serve({ name: "http-01 and redirect server", hostname, port: http, handler: (request) => this.answerHttp(request) });
  }

  /** HTTPS requests go to the running generation (or, before the first switch, the one being built). */
  private route(request: Request, server: Bun.Server<WebSocketProxyData>): ReturnType<Handler> {
    const generation = this.generations.find((candidate) => candidate.view.isActive) ?? this.generations[0];
    return generation ? generation.handler(request, server) : new Response("Starting\n", { status: 503, headers: { "retry-after": "1" } });
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
    await Promise.allSettled([this.https.stop(), this.http.stop()]);
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
    return this.listeners?.https.port;
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
    const reuse = this.listeners?.key === `${config.listen.hostname} ${config.listen.https} ${config.listen.http} ${config.listen.http2}`;
    const listeners = reuse ? this.listeners! : new Listeners(config, this.parts.onRejected, this.parts.websocket);
    if (!reuse) {
      // Bound before anything is obtained: a taken port is said at once, and names get the placeholder until their certificate.
      await listeners.https.serve([]).catch(async (error: unknown) => {
        await listeners.stop();
        throw error;
      });
    }
    let generation: Generation | undefined;
    try {
      const ca = config.ca ? readFileSync(config.ca, "utf8") : this.parts.defaultCa;
      const issuers = config.issuers.map((issuer) => {
        const roots = issuer.ca ? readFileSync(issuer.ca, "utf8") : this.parts.defaultCa;
        return { directoryUrl: issuer.directoryUrl, ...(roots ? { ca: roots } : {}), ...(issuer.eab ? { eab: issuer.eab } : {}) };
      });
      generation = this.prepare(config, listeners, !reuse);
      listeners.generations.unshift(generation);
      generation.managed = await manage({
        ...this.parts.manageOptions(config, generation.store, ca),
        certificates: config.sites.map((site) => ({ names: site.names.map((name) => name.value), serve: site.upstream !== undefined })),
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
    return {
      config,
      store,
      solver: dns ?? (shared ? new SharedHttp01Solver(local, shared) : local),
      // Nothing else serves on fresh listeners: their first generation presents at once.
      view: new CertificateServerView(listeners.https, { active: fresh }),
      handler: this.parts.handler(config),
      // The HTTP port redirects only the names this configuration serves: never an open redirect.
      answerHttp: redirectingHandler(local, shared, config.listen.https, (name) =>
        config.sites.some((site) => site.upstream !== undefined && site.names.some((pattern) => hostNameMatches(pattern.value, name)))),
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
