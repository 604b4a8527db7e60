/**
 * An HTTPS server whose certificates change without a restart. Bun 1.4.5 ignores
 * `server.reload({ tls })`, so a swap starts a second `Bun.serve` on the same port
 * (`reusePort`) with the new certificates, then stops the old one gracefully: requests in flight
 * finish, keep-alive clients reconnect to the new one.
 *
 * Measured here (16 clients, 6 swaps in 7 s): keep-alive traffic 191,726 requests, 0 failed, at
 * the speed of a plain `Bun.serve`; one new connection per request, 0 failed with Linux's
 * `net.ipv4.tcp_migrate_req = 1`, else 25–32 reset (connections queued on the closing listener).
 * A `node:tls` front with `SNICallback` had no failures either way but 32–42 % lower throughput (bench/manage-results.md).
 */
import { readFileSync } from "node:fs";
import { createSelfSignedCertificate } from "../asn1/index.ts";
import { encodePem, tryParseIp } from "../encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../jose/index.ts";
import { ServerStartError } from "./serve.ts";

/** One certificate and the names it is served for. */
export interface ServedCertificate {
  /** DNS names (wildcards too) and IP addresses. */
  readonly names: readonly string[];
  /** PEM, leaf first. */
  readonly chainPem: string;
  readonly keyPem: string;
}

/** Where and what to serve. */
export interface HotTlsServerOptions {
  readonly hostname: string;
  readonly port: number;
  readonly fetch: (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>;
}

type TlsEntry = { serverName?: string; cert: string; key: string };

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
 * Serves HTTPS with a set of certificates chosen by SNI, and swaps the set in place. A name with
 * no certificate of its own gets a self-signed placeholder ("no certificate for this name"), so
 * its clients fail the handshake instead of being shown another site's certificate; the first
 * certificate with an IP address is the default instead, for clients that send no SNI.
 */
export class HotTlsServer {
  private readonly options: HotTlsServerOptions;
  private server: ReturnType<typeof Bun.serve> | undefined;
  private placeholder: Promise<TlsEntry> | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Completed swaps (not counting the first start). */
  swaps = 0;

  constructor(options: HotTlsServerOptions) {
    this.options = options;
  }

  /** The port (useful with port 0). */
  get port(): number {
    return this.server?.port ?? this.options.port;
  }

  /**
   * Starts serving `certificates`, or swaps them in. Calls are applied one after another.
   *
   * @throws {ServerStartError} when the port cannot be bound
   */
  serve(certificates: readonly ServedCertificate[]): Promise<void> {
    const next = this.queue.then(() => this.swap(certificates));
    this.queue = next.catch(() => {});
    return next;
  }

  /** Stops serving; requests in flight finish. */
  async stop(): Promise<void> {
    await this.queue;
    const server = this.server;
    this.server = undefined;
    await server?.stop();
  }

  private async swap(certificates: readonly ServedCertificate[]): Promise<void> {
    const tls = await this.entries(certificates);
    let started: ReturnType<typeof Bun.serve>;
    try {
      started = Bun.serve({
        hostname: this.options.hostname,
        port: this.server?.port ?? this.options.port,
        reusePort: true,
        tls,
        fetch: this.options.fetch,
        error: () => new Response("Internal Server Error\n", { status: 500 }),
      });
    } catch (error) {
      throw new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error);
    }
    const old = this.server;
    this.server = started;
    if (old) {
      await old.stop(); // graceful: in-flight requests finish on the old certificate
      this.swaps++;
    }
  }

  private async entries(certificates: readonly ServedCertificate[]): Promise<TlsEntry[]> {
    const named = certificates.flatMap((certificate) =>
      certificate.names.filter((name) => !tryParseIp(name)).map((serverName) => ({ serverName, cert: certificate.chainPem, key: certificate.keyPem }))
    );
    const withIp = certificates.find((certificate) => certificate.names.some((name) => tryParseIp(name)));
    const fallback = withIp ? { cert: withIp.chainPem, key: withIp.keyPem } : await (this.placeholder ??= makePlaceholder());
    return [fallback, ...named];
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
