/**
 * One of several certificate sets taking turns on one HTTPS server: the daemon builds a new
 * configuration (its own `manage()`) while the running one keeps serving, then switches in one
 * step. Only the active view reaches the server; an inactive one remembers what it was asked to
 * serve and presents it when activated.
 */
import type { ServedCertificate } from "./hot-tls.ts";

/** What a view forwards to: an HTTPS server whose certificates can be swapped (e.g. `HotTlsServer`). */
export interface SwappableCertificates {
  readonly port: number;
  serve(certificates: readonly ServedCertificate[]): Promise<void>;
}

/**
 * A view of a shared HTTPS server, with the interface `manage()` serves through: `serve()` is
 * forwarded while the view is active and remembered otherwise; `stop()` only deactivates the view
 * (the server belongs to whoever made it).
 */
export class CertificateServerView {
  private readonly server: SwappableCertificates;
  private latest: readonly ServedCertificate[] | undefined;
  private active: boolean;

  constructor(server: SwappableCertificates, options: { readonly active?: boolean } = {}) {
    this.server = server;
    this.active = options.active ?? false;
  }

  /** The shared server's port. */
  get port(): number {
    return this.server.port;
  }

  /** Whether `serve()` reaches the server. */
  get isActive(): boolean {
    return this.active;
  }

  /** Serves `certificates` now if active, else when activated. */
  async serve(certificates: readonly ServedCertificate[]): Promise<void> {
    this.latest = certificates;
    if (this.active) await this.server.serve(certificates);
  }

  /** From now on this view's certificates are served (the last set it was given, at once). */
  async activate(): Promise<void> {
    this.active = true;
    if (this.latest) await this.server.serve(this.latest);
  }

  /** From now on nothing this view is given reaches the server. */
  deactivate(): void {
    this.active = false;
  }

  /** Deactivates the view; the server keeps running. */
  async stop(): Promise<void> {
    this.deactivate();
  }
}
