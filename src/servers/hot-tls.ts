/**
 * An HTTPS server whose certificates change without a restart and without failing a request.
 * Bun 1.4.5 ignores `server.reload({ tls })`, so each certificate set is served by its own
 * `Bun.serve` (a backend), and a swap starts a new backend and retires the old one: from then on
 * the old one answers with `Connection: close`, so keep-alive clients move over after their next
 * response instead of finding their connection closed under them, and it stops once its
 * connections are gone (or after a grace period). Two ways to reach the backends:
 *
 * - `"relay"`: a permanent TCP listener ({@link TcpRelay}) hands each connection to the current
 *   backend on loopback. The public listener never closes, so no connection is ever reset; the
 *   cost is one loopback hop per connection (bench/manage-results.md).
 * - `"reuse-port"`: the backends listen on the public port themselves (`SO_REUSEPORT`) and the old
 *   one closes after the grace period. No hop; safe only where Linux moves the connections queued
 *   on a closing listener to another (`net.ipv4.tcp_migrate_req` = 1), else those are reset.
 *
 * `"auto"` (the default) picks `"reuse-port"` when `tcp_migrate_req` is 1, `"relay"` otherwise.
 */
import { readFileSync } from "node:fs";
import { createSelfSignedCertificate, importPrivateKeyPem, readCertificate } from "../asn1/index.ts";
import { decodePemBlocks, encodePem, toHex, tryParseIp } from "../encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../jose/index.ts";
import { ServerStartError } from "./serve.ts";
import { withClientAddresses } from "./client-address.ts";
import { TcpRelay, type RelayTarget } from "./tcp-relay.ts";
import type { Socket, TCPSocketListener } from "bun";
import type { IdleCollector } from "./idle-collector.ts";

/** One certificate and the names it is served for. */
export interface ServedCertificate {
  /** DNS names (wildcards too) and IP addresses. */
  readonly names: readonly string[];
  /** PEM, leaf first. */
  readonly chainPem: string;
  readonly keyPem: string;
}

/** Certificates whose key manage() has already found to be the leaf's: see {@link markKeyChecked}. */
const keyCheckedPairs = new WeakSet<ServedCertificate>();

/**
 * Marks a certificate as one whose private key was already checked against its leaf (manage():
 * every lineage it serves was found whole by `lineageDamage` on loading or obtaining), so that the
 * server does not import the key a second time (about a quarter of a warm start with 200
 * certificates). The mark lives here, not on the object: a library user cannot set it to skip the
 * check; only code inside bun-acme reaches this function (it is not exported from the package).
 */
export function markKeyChecked<T extends ServedCertificate>(certificate: T): T {
  keyCheckedPairs.add(certificate);
  return certificate;
}

/** Whether {@link markKeyChecked} marked this very object. */
export function isKeyChecked(certificate: ServedCertificate): boolean {
  return keyCheckedPairs.has(certificate);
}

/** How a swap reaches new connections: see {@link HotTlsServer}. */
export type SwapMode = "auto" | "relay" | "reuse-port";

/** Where and what to serve. */
export interface HotTlsServerOptions<WebSocketData = undefined> {
  readonly hostname: string;
  readonly port: number;
  /**
   * The handler; `server.requestIP(request)` gives the client's address in both modes. It answers
   * nothing (undefined) once it has upgraded the request to a WebSocket (`server.upgrade`).
   */
  readonly fetch: (request: Request, server: Bun.Server<WebSocketData>) => Response | undefined | Promise<Response | undefined>;
  /** `Bun.serve`'s WebSocket handlers, for requests the handler upgrades (e.g. `createWebSocketProxy().websocket`). */
  readonly websocket?: Bun.WebSocketHandler<WebSocketData>;
  /** Default `"auto"`. */
  readonly mode?: SwapMode;
  /**
   * How long a retired backend keeps its connections after a swap (default 2 s in `"reuse-port"`
   * mode, where its listener then closes; 10 minutes in `"relay"` mode, where it stops as soon as
   * its last connection ends: idle keep-alive connections end within Bun's idle timeout, so only
   * long-lived ones such as WebSockets wait that long). Connections still open then are closed if
   * idle, finished if busy.
   */
  readonly drainMs?: number;
  /** Offer HTTP/2 by ALPN (HTTP/1.1 to clients that do not ask for it). Default false. */
  readonly http2?: boolean;
  /**
   * Told about a certificate left out of a swap because it cannot be served (its key is not the
   * certificate's, or its PEM does not parse): the others are served, the name gets the placeholder.
   */
  readonly onRejected?: (certificate: ServedCertificate, reason: string) => void;
  /**
   * Told of every request and swap, to give memory back after a swap and once requests stop (the daemon passes an
   * {@link IdleCollector}); none by default: what it does reaches the whole process.
   */
  readonly idleCollector?: IdleCollector;
}

type TlsEntry = { serverName?: string; cert: string; key: string };

/**
 * Bun 1.4.5 builds every TLS context of a `Bun.serve` with the default root store (its bundled
 * roots and /etc/ssl/certs/ca-certificates.crt) unless `ca` is given, although a server that asks
 * no client for a certificate never consults it: 5–6 ms on the first server (the daemon's warm
 * start waited for it), about 1.5 ms on each later one, and about 1.3 MiB of anonymous memory held. Given the entry's own
 * certificate as `ca`, it loads nothing; `requestCert` stays off, so no client is asked for a
 * certificate (tests/servers/hot-tls.test.ts checks the handshake for a CertificateRequest).
 */
const withoutRootStore = (entry: TlsEntry) => ({ ...entry, ca: entry.cert });

/** One certificate set being served. */
interface Backend<WebSocketData> {
  readonly server: Bun.Server<WebSocketData>;
  readonly target: RelayTarget;
  retired: boolean;
  stopping?: Promise<void>;
}

/**
 * The swap's weak point, from the kernel: whether connections queued on a closing listener move
 * to the new one. `undefined` when it cannot be read (not Linux, or an older kernel).
 * @see https://docs.kernel.org/networking/ip-sysctl.html (tcp_migrate_req)
 */
export function tcpMigrateRequests(): boolean | undefined {
  try {
    return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() === "1";
  } catch {
    return undefined;
  }
}

/**
 * Serves HTTPS with a set of certificates chosen by SNI, and swaps the set in place without
 * closing a connection under its client. A name with no certificate of its own gets a self-signed
 * placeholder ("no certificate for this name"), so its clients fail the handshake instead of being
 * shown another site's certificate; the first certificate with an IP address is the default
 * instead, for clients that send no SNI.
 */
export class HotTlsServer<WebSocketData = undefined> {
  private readonly options: HotTlsServerOptions<WebSocketData>;
  /** The resolved mode. */
  readonly mode: Exclude<SwapMode, "auto">;
  private readonly relay: TcpRelay | undefined;
  private readonly idle: IdleCollector | undefined;
  private current: Backend<WebSocketData> | undefined;
  /** Reuse-port mode, from {@link bind} to the first backend: holds the port and closes what it accepts. */
  private gate: TCPSocketListener | undefined;
  private readonly retiring = new Set<Backend<WebSocketData>>();
  private placeholder: Promise<TlsEntry> | undefined;
  private verdicts = new Map<string, { keyPem: string; reason: string | undefined }>();
  private queue: Promise<void> = Promise.resolve();
  /** The next swap, not yet begun: later calls replace its certificates instead of queueing swaps of their own. */
  private pending: { certificates: readonly ServedCertificate[]; readonly done: PromiseWithResolvers<void> } | undefined;
  /** Completed swaps (not counting the first start). */
  swaps = 0;

  constructor(options: HotTlsServerOptions<WebSocketData>) {
    this.options = options;
    const mode = options.mode ?? "auto";
    this.mode = mode === "auto" ? (tcpMigrateRequests() === true ? "reuse-port" : "relay") : mode;
    this.relay = this.mode === "relay" ? new TcpRelay() : undefined;
    this.idle = options.idleCollector;
  }

  /** The public port (useful with port 0). */
  get port(): number {
    return (this.relay ? this.relay.port : this.current?.server.port ?? this.gate?.port) ?? this.options.port;
  }

  /** Retired backends still holding connections (for tests and metrics). */
  get draining(): number {
    return this.retiring.size;
  }

  /**
   * Starts serving `certificates`, or swaps them in. Calls are applied one after another; calls made
   * while a swap runs are folded into one next swap with the latest set (each call names the whole
   * set), so that certificates arriving faster than swaps complete cost one new backend, not one
   * each (every backend holds a TLS context per name). Resolves once a swap with this set (or a
   * later one) is done.
   *
   * @throws {ServerStartError} when the port cannot be bound
   */
  serve(certificates: readonly ServedCertificate[]): Promise<void> {
    if (this.pending) {
      this.pending.certificates = certificates;
      return this.pending.done.promise;
    }
    const pending = { certificates, done: Promise.withResolvers<void>() };
    this.pending = pending;
    this.queue = this.queue.then(async () => {
      this.pending = undefined; // from here on, a call waits for the swap after this one
      await this.swap(pending.certificates).then(() => pending.done.resolve(), (error: unknown) => pending.done.reject(error));
    });
    return pending.done.promise;
  }

  /**
   * Binds the public port before any certificate is known, so that a taken port is said at once.
   * Until the first {@link serve}, each connection is closed (the client fails as it would on the
   * placeholder), and no placeholder is needed for a start whose certificates are all stored: in
   * relay mode the relay listens; in reuse-port mode a plain listener holds the port
   * (`SO_REUSEPORT`) and closes once the first backend listens beside it, as a retired backend's
   * does. Call {@link servePlaceholderIfIdle} once the first certificates were due.
   *
   * @throws {ServerStartError} when the port cannot be bound
   */
  async bind(): Promise<void> {
    if (this.relay && this.relay.port === undefined) this.listen(undefined);
    if (!this.relay && !this.current && !this.gate) this.holdPort();
    this.placeholderEntry(); // begun now rather than between reading the certificates and serving them (the same CPU either way)
  }

  /** The placeholder, when nothing was served (nor is being) since {@link bind}: a server that presents nothing would close every connection. */
  async servePlaceholderIfIdle(): Promise<void> {
    await this.queue;
    if (!this.current && !this.pending) await this.serve([]);
  }

  /** Stops serving: no new connections; requests in flight finish. */
  async stop(): Promise<void> {
    await this.queue;
    this.idle?.stop();
    this.relay?.stopListening();
    this.releasePort();
    const backends = [...this.retiring, ...(this.current ? [this.current] : [])];
    this.current = undefined;
    await Promise.all(backends.map((backend) => backend.server.stop()));
    this.relay?.closeAll();
  }

  private async swap(certificates: readonly ServedCertificate[]): Promise<void> {
    const started = this.startBackend(await this.entries(certificates));
    if (this.relay && this.relay.port === undefined) this.listen(started);
    this.releasePort(); // the first backend listens on the port now
    if (this.relay) this.relay.target = started.target;
    const old = this.current;
    this.current = started;
    this.idle?.changed(); // what obtaining and loading the certificates left behind: given back soon after, busy or not
    if (old) {
      this.retire(old);
      this.swaps++;
    }
  }

  private listen(first: Backend<WebSocketData> | undefined): void {
    try {
      this.relay!.listen({ hostname: this.options.hostname, port: this.options.port });
    } catch (error) {
      void first?.server.stop(true);
      throw new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error);
    }
  }

  private holdPort(): void {
    // Bun 1.4.5 honours reusePort in Bun.listen, though its TCPSocketListenOptions type lacks it (hence no literal here).
    const options = { hostname: this.options.hostname, port: this.options.port, reusePort: true, socket: { open: (socket: Socket) => void socket.end(), data() {} } };
    try {
      this.gate = Bun.listen(options);
    } catch (error) {
      throw new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error);
    }
  }

  private releasePort(): void {
    this.gate?.stop(true);
    this.gate = undefined;
  }

  private startBackend(tls: TlsEntry[]): Backend<WebSocketData> {
    const relayed = this.relay !== undefined;
    const backend = {} as { -readonly [K in keyof Backend<WebSocketData>]: Backend<WebSocketData>[K] };
    const handler = this.options.fetch;
    const idle = this.idle;
    let facade: Bun.Server<WebSocketData> | undefined;
    try {
      backend.server = Bun.serve({
        hostname: relayed ? "127.0.0.1" : this.options.hostname,
        port: relayed ? 0 : this.current?.server.port ?? this.gate?.port ?? this.options.port,
        reusePort: !relayed,
        tls: tls.map(withoutRootStore),
        // Without handlers of the caller's, nothing is ever upgraded: the handler alone calls server.upgrade().
        websocket: this.options.websocket ?? { message() {} },
        ...(this.options.http2 ? { http2: true } : {}),
        fetch: (request, server) => {
          idle?.busy();
          facade ??= relayed ? withClientAddresses(server, (port) => this.relay!.clientAddress(port)) : server;
          const response = handler(request, facade);
          // The common case goes straight through: no extra promise per request for a backend that is not retired.
          if (!backend.retired) return response;
          return Promise.resolve(response).then((answer) => (answer ? closing(answer) : answer));
        },
        error: () => new Response("Internal Server Error\n", { status: 500 }),
      });
    } catch (error) {
      throw new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error);
    }
    backend.target = { port: backend.server.port!, connections: 0 };
    backend.retired = false;
    return backend;
  }

  /** From now on the backend says `Connection: close`; it stops when its connections are gone, or after the grace period. */
  private retire(backend: Backend<WebSocketData>): void {
    backend.retired = true;
    this.retiring.add(backend);
    const stop = () => {
      clearTimeout(timer);
      backend.stopping ??= backend.server.stop().finally(() => {
        this.retiring.delete(backend);
        collectNow();
      });
    };
    const timer = setTimeout(stop, this.options.drainMs ?? (this.relay ? 600_000 : 2_000));
    timer.unref(); // a draining backend never keeps the process alive
    if (this.relay) {
      backend.target.onIdle = stop;
      if (backend.target.connections === 0) stop();
    }
  }

  private async entries(all: readonly ServedCertificate[]): Promise<TlsEntry[]> {
    // Checked once per chain and key: a swap re-serves mostly the same certificates.
    const verdicts = new Map<string, { keyPem: string; reason: string | undefined }>();
    const checked = await Promise.all(all.map(async (certificate) => {
      const known = this.verdicts.get(certificate.chainPem);
      const seen = known?.keyPem === certificate.keyPem;
      const reason = seen ? known.reason : isKeyChecked(certificate) ? undefined : await unservable(certificate);
      return { certificate, seen, reason };
    }));
    const certificates = checked.filter(({ certificate, seen, reason }) => {
      verdicts.set(certificate.chainPem, { keyPem: certificate.keyPem, reason });
      if (reason && !seen) this.options.onRejected?.(certificate, reason); // once, not at every swap
      return reason === undefined;
    }).map(({ certificate }) => certificate);
    this.verdicts = verdicts;
    const named = certificates.flatMap((certificate) =>
      certificate.names.filter((name) => !tryParseIp(name)).map((serverName) => ({ serverName, cert: certificate.chainPem, key: certificate.keyPem }))
    );
    const withIp = certificates.find((certificate) => certificate.names.some((name) => tryParseIp(name)));
    const fallback = withIp ? { cert: withIp.chainPem, key: withIp.keyPem } : await this.placeholderEntry();
    return [fallback, ...named];
  }

  /** The placeholder, made once. */
  private placeholderEntry(): Promise<TlsEntry> {
    if (!this.placeholder) {
      this.placeholder = makePlaceholder();
      this.placeholder.catch(() => undefined); // begun early: a failure is seen where it is awaited
    }
    return this.placeholder;
  }
}

/**
 * Why a certificate cannot be served, or undefined: one bad pair would make `Bun.serve` refuse the
 * whole set, so each is checked first (the leaf's public key against the private key).
 */
async function unservable(certificate: ServedCertificate): Promise<string | undefined> {
  // With the project's own X.509 reader and WebCrypto, not node:crypto's X509Certificate: importing
  // node:crypto adds about 8 MiB to the daemon's resident memory.
  try {
    const leafDer = decodePemBlocks(certificate.chainPem).find((block) => block.label === "CERTIFICATE")?.der;
    if (!leafDer) return "cannot read it: no CERTIFICATE block";
    const leafKey = readCertificate(leafDer).subjectPublicKeyInfo;
    const { publicKey } = await importPrivateKeyPem(certificate.keyPem);
    const keyOfPair = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
    return toHex(keyOfPair) === toHex(leafKey) ? undefined : "the private key is not the certificate's";
  } catch (error) {
    return `cannot read it: ${(error as Error).message}`;
  }
}

/**
 * A full garbage collection, once a backend has stopped. Its TLS contexts (one per name) are native
 * memory that JavaScriptCore does not count, released only when the server object is collected, so
 * the collector saw no reason to run: a daemon obtaining 200 certificates grew to 307 MiB (75 MiB
 * with this, and obtained them faster). A collection takes a few milliseconds; deferring it to at
 * most one a second was measured too, and left a higher peak (98–106 MiB) and a slower start.
 */
function collectNow(): void {
  Bun.gc(true);
}

/** The response with `Connection: close`, so that its client opens its next connection to the current backend. */
function closing(response: Response): Response {
  try {
    response.headers.set("connection", "close");
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set("connection", "close");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

async function makePlaceholder(): Promise<TlsEntry> {
  const keyPair = await generateKeyPair("ec256");
  const now = Date.now();
  const der = await createSelfSignedCertificate({
    commonName: "bun-acme: no certificate for this name",
    keyPair,
    extensions: [],
    notBefore: new Date(now - 86_400_000),
    notAfter: new Date(now + 365 * 86_400_000),
  });
  return { cert: encodePem("CERTIFICATE", der), key: await exportPrivateKeyPem(keyPair.privateKey) };
}
