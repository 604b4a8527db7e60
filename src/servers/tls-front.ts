/**
 * An HTTPS server that picks (or makes) the certificate during each handshake: a `node:tls`
 * server with an `SNICallback` in front of a plain `Bun.serve` on a loopback port, bytes piped
 * between them. What it costs: measured here, 32–42 % fewer requests per second than a `Bun.serve`
 * with TLS (one extra hop); what it gives: certificates swapped by replacing a context (no
 * listener changes at all), a handshake failure for names with no certificate, and certificates
 * obtained on demand, during the handshake that asks for them.
 */
import { connect, type Socket } from "node:net";
import { createSecureContext, createServer, type SecureContext, type Server as TlsServer } from "node:tls";
import { tryParseIp } from "../encoding/index.ts";
import { withClientAddresses } from "./client-address.ts";
import { ServerStartError } from "./serve.ts";
import type { ServedCertificate } from "./hot-tls.ts";

/** Where and what to serve, and what to do for a name with no certificate. */
export interface TlsFrontOptions {
  readonly hostname: string;
  readonly port: number;
  readonly fetch: (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>;
  /**
   * Called during a handshake for a name no certificate covers: resolve a certificate to serve it
   * (e.g. one obtained now), or `undefined` to fail the handshake.
   */
  readonly onUnknownName?: (name: string) => Promise<ServedCertificate | undefined>;
}

/** Serves HTTPS through a `node:tls` front; {@link serve} replaces the certificates in place. */
export class TlsFrontServer {
  private readonly options: TlsFrontOptions;
  private contexts = new Map<string, SecureContext>();
  /** For clients that send no SNI: the first certificate with an IP address. */
  private fallback: { readonly context: SecureContext; readonly cert: string; readonly key: string } | undefined;
  private inner: ReturnType<typeof Bun.serve> | undefined;
  private front: TlsServer | undefined;
  private readonly sockets = new Set<Socket>();
  /** The client behind each loopback connection to the inner server, by that connection's local port. */
  private readonly clients = new Map<number, { address: string; port: number }>();

  constructor(options: TlsFrontOptions) {
    this.options = options;
  }

  get port(): number {
    const address = this.front?.address();
    return typeof address === "object" && address ? address.port : this.options.port;
  }

  /**
   * Starts serving, or replaces the certificates (the next handshakes use them).
   *
   * @throws {ServerStartError} when the port cannot be bound
   */
  async serve(certificates: readonly ServedCertificate[]): Promise<void> {
    const contexts = new Map<string, SecureContext>();
    let fallback: TlsFrontServer["fallback"];
    for (const certificate of certificates) {
      const context = createSecureContext({ cert: certificate.chainPem, key: certificate.keyPem });
      for (const name of certificate.names) {
        if (tryParseIp(name)) fallback ??= { context, cert: certificate.chainPem, key: certificate.keyPem };
        else contexts.set(name.toLowerCase(), context);
      }
    }
    this.contexts = contexts;
    this.fallback = fallback;
    if (!this.front) await this.start();
    else if (fallback) this.front.setSecureContext({ cert: fallback.cert, key: fallback.key });
  }

  /** Adds one certificate (on demand) without replacing the others. */
  add(certificate: ServedCertificate): void {
    const context = createSecureContext({ cert: certificate.chainPem, key: certificate.keyPem });
    for (const name of certificate.names) this.contexts.set(name.toLowerCase(), context);
  }

  async stop(): Promise<void> {
    const front = this.front;
    this.front = undefined;
    if (front) await new Promise<void>((resolve) => front.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await this.inner?.stop();
    this.inner = undefined;
  }

  /** The context for a name: exact, then a wildcard one label up. */
  private lookup(name: string): SecureContext | undefined {
    const lower = name.toLowerCase().replace(/\.$/, ""); // "example.net." is example.net
    return this.contexts.get(lower) ?? this.contexts.get(`*.${lower.slice(lower.indexOf(".") + 1)}`);
  }

  private async contextFor(name: string | undefined): Promise<SecureContext | undefined> {
    // No SNI, or an IP literal (RFC 6066 forbids it, some clients send it anyway): the default certificate.
    if (!name || tryParseIp(name)) return this.fallback?.context;
    const known = this.lookup(name);
    if (known || !this.options.onUnknownName) return known;
    const made = await this.options.onUnknownName(name).catch(() => undefined);
    if (!made) return undefined;
    this.add(made);
    return this.lookup(name);
  }

  private async start(): Promise<void> {
    const handler = this.options.fetch;
    let facade: Bun.Server<undefined> | undefined;
    this.inner = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request, server) => handler(request, facade ??= withClientAddresses(server, (port) => this.clients.get(port))) });
    const innerPort = this.inner.port!;
    const front = createServer({
      ...(this.fallback ? { cert: this.fallback.cert, key: this.fallback.key } : {}),
      SNICallback: (name, callback) => {
        this.contextFor(name).then(
          (context) => (context ? callback(null, context) : callback(new Error(`no certificate for ${name}`), undefined)),
          (error: Error) => callback(error, undefined),
        );
      },
    }, (socket) => this.pipe(socket, innerPort));
    front.on("tlsClientError", () => {}); // failed handshakes are the client's business
    await new Promise<void>((resolve, reject) => {
      front.once("error", (error) => reject(new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error)));
      front.listen(this.options.port, this.options.hostname, () => resolve());
    });
    this.front = front;
  }

  private pipe(socket: Socket, innerPort: number): void {
    const upstream = connect(innerPort, "127.0.0.1");
    upstream.once("connect", () => {
      const port = upstream.localPort;
      if (port === undefined || socket.remoteAddress === undefined) return;
      this.clients.set(port, { address: socket.remoteAddress, port: socket.remotePort ?? 0 });
      upstream.once("close", () => this.clients.delete(port));
    });
    this.sockets.add(socket);
    this.sockets.add(upstream);
    const close = () => {
      socket.destroy();
      upstream.destroy();
      this.sockets.delete(socket);
      this.sockets.delete(upstream);
    };
    socket.pipe(upstream).pipe(socket);
    socket.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  }
}
