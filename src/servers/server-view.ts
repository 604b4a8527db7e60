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
  /** Whether the server got `latest` (a view active from the start has nothing to present when activated). */
  private presented = false;

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
    this.presented = false;
    if (!this.active) return;
    await this.server.serve(certificates);
    this.presented = this.latest === certificates;
  }

  /**
   * From now on this view's certificates are served (the last set it was given, at once, unless the
   * server already has it: a second swap of the same set would cost a new backend for nothing).
   */
  async activate(): Promise<void> {
    this.active = true;
    if (!this.latest || this.presented) return;
    const latest = this.latest;
    await this.server.serve(latest);
    this.presented = this.latest === latest;
  }

  /** From now on nothing this view is given reaches the server. */
  deactivate(): void {
    this.active = false;
    this.presented = false; // another view may serve in the meantime
  }

  /** Deactivates the view; the server keeps running. */
  async stop(): Promise<void> {
    this.deactivate();
  }
}
