/**
 * The daemon's listeners, kept across reloads that do not change them: the HTTPS server (Bun.serve
 * backends swapped by HotTlsServer, or the node:tls front for on-demand names), the HTTP port
 * (http-01 answers and redirects), and with tls-alpn-01 the router in front of HTTPS. Requests go
 * to the running generation; validation answers come from whichever generation holds them.
 */
import type { ChallengeSolver } from "../acme/index.ts";
import { ACME_TLS_ALPN_PROTOCOL, type PemCertificate } from "../challenges/index.ts";
import type { Managed } from "../manage/index.ts";
import { AlpnRouter, CertificateServerView, HotTlsServer, IdleCollector, serve, TlsFrontServer, withClientAddresses, type RunningServer, type ServedCertificate, type WebSocketProxyData } from "../servers/index.ts";
import type { CertificateStore } from "../store/index.ts";
import type { ServeConfig } from "./config.ts";

/** An HTTPS handler; undefined once it upgraded the request to a WebSocket. */
export type DaemonHandler = (request: Request, server: Bun.Server<WebSocketProxyData>) => Response | undefined | Promise<Response | undefined>;
type Handler = DaemonHandler;

/**
 * Which HTTPS server a configuration needs: on-demand names need a certificate chosen (or
 * obtained) during the handshake, which only the `node:tls` front can do; otherwise `Bun.serve`
 * backends swapped by HotTlsServer (HTTP/2, no extra hop).
 */
export const frontOf = (config: ServeConfig): "tls-front" | "hot-tls" => (config.onDemand ? "tls-front" : "hot-tls");

/** The `[listen]` addresses and the kind of HTTPS server: what listeners are kept across reloads for. */
export const listenersKey = (config: ServeConfig) => `${config.listen.hostname} ${config.listen.https} ${config.listen.http} ${config.listen.http2} ${frontOf(config)} ${config.challenge === "tls-alpn-01"}`;

/** One configuration, running or being built: its store, solver, handlers and certificate view. */
export interface Generation {
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
export class Listeners {
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

  /**
   * @param onRejected told when the HTTPS server leaves a certificate out (its key is another's)
   * @param websocket the WebSocket handlers of the HTTPS listeners
   */
  constructor(config: ServeConfig, onRejected: ((names: readonly string[], reason: string) => void) | undefined, websocket: Bun.WebSocketHandler<WebSocketProxyData> | undefined) {
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
   * certificate until their generation serves one. No placeholder is served yet (relay and
   * reuse-port modes alike): a warm start presents its stored certificates in the first backend
   * (see {@link presentAnything}).
   *
   * @throws {ServerStartError} when an address cannot be bound
   */
  async bind(): Promise<void> {
    await (this.https instanceof HotTlsServer ? this.https.bind() : this.https.serve([]));
    await this.router?.listen(this.https.port);
  }

  /** Once the first generation had its start: the placeholder when it served nothing (no site with an upstream), as before it the bind did. */
  async presentAnything(): Promise<void> {
    if (this.https instanceof HotTlsServer) await this.https.servePlaceholderIfIdle();
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
