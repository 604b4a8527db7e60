/**
 * What a Prometheus server scrapes from `manage()` or the daemon: per certificate its names,
 * issuer, not-after, next renewal time and last renewal outcome; counters of orders, failures by
 * ACME problem type, certificate swaps and proxied requests by status. Fed by manage()'s events.
 * @see https://prometheus.io/docs/practices/naming/
 */
import { AcmeConnectionError, AcmeProblemError } from "../acme/index.ts";
import { renderExposition, type MetricFamily } from "./exposition.ts";

/** The events the metrics read: manage()'s `ManageEvent`, or anything shaped like it. */
export interface MetricsEvent {
  readonly type: string;
  readonly lineage?: string;
  readonly names?: readonly string[];
  readonly serial?: string;
  readonly notAfter?: string;
  readonly at?: string;
  readonly error?: Error;
  /** The directory URL of the CA that issued the certificate (issuer fallback). */
  readonly ca?: string;
}

interface CertificateState {
  names: readonly string[];
  notAfter?: number;
  nextRenewal?: number;
  /** 1 after a success, 0 after a failure, undefined before either. */
  lastOutcome?: 0 | 1;
  lastOutcomeAt?: number;
  /** The CA that issued the certificate served, when an event named it. */
  issuer?: string;
}

/** A certificate too close to its expiry (or past it), for a health check. */
export interface ExpiryProblem {
  readonly lineage: string;
  readonly names: readonly string[];
  /** ISO time; absent when no certificate was ever obtained. */
  readonly notAfter?: string;
}

/**
 * The problem type an error counts under: the ACME problem's short type (`rateLimited`,
 * `unauthorized`...), `connection` when the CA could not be reached, else `other`.
 */
export function failureKind(error: Error | undefined): string {
  if (error instanceof AcmeProblemError) return error.problem.type.replace(/^urn:ietf:params:acme:error:/, "") || "other";
  if (error instanceof AcmeConnectionError) return "connection";
  return "other";
}

/** Metrics of managed certificates, fed by {@link observe}, rendered by {@link render}. */
export class CertificateMetrics {
  private readonly certificates = new Map<string, CertificateState>();
  private readonly orders = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly responses = new Map<string, number>();
  private readonly issuer: () => string;
  private readonly swaps: () => number;
  private readonly now: () => number;

  /**
   * @param options.issuer the CA certificates are ordered from (a directory URL), as a label; a
   *   function when it changes (a daemon's reloaded configuration); an event naming the CA that
   *   issued a certificate (`ca`, after a fallback) labels that certificate with it instead
   * @param options.swaps how many certificate swaps the HTTPS server has made
   * @param options.now the clock (default `Date.now`)
   */
  constructor(options: { readonly issuer: string | (() => string); readonly swaps?: () => number; readonly now?: () => number }) {
    const issuer = options.issuer;
    this.issuer = typeof issuer === "string" ? () => issuer : issuer;
    this.swaps = options.swaps ?? (() => 0);
    this.now = options.now ?? Date.now;
  }

  /** Takes in one of manage()'s events. */
  observe(event: MetricsEvent): void {
    if (!event.lineage) return;
    const state = this.certificates.get(event.lineage) ?? { names: event.names ?? [] };
    this.certificates.set(event.lineage, state);
    if (event.names) state.names = event.names;
    if (event.notAfter) state.notAfter = Date.parse(event.notAfter);
    if (event.ca && event.type !== "warning") state.issuer = event.ca; // a warning's ca is a CA that failed
    switch (event.type) {
      case "obtained":
      case "renewed":
        this.count(this.orders, event.type);
        state.lastOutcome = 1;
        state.lastOutcomeAt = this.now();
        break;
      case "renewal_failed":
        this.count(this.failures, failureKind(event.error));
        state.lastOutcome = 0;
        state.lastOutcomeAt = this.now();
        break;
      case "next_renewal":
        if (event.at) state.nextRenewal = Date.parse(event.at);
        break;
    }
  }

  /** Forgets the certificates not in `lineages` (no longer managed after a reload). */
  retain(lineages: readonly string[]): void {
    const kept = new Set(lineages);
    for (const lineage of this.certificates.keys()) if (!kept.has(lineage)) this.certificates.delete(lineage);
  }

  /** Counts one proxied response by its status code. */
  observeResponse(status: number): void {
    this.count(this.responses, String(status));
  }

  /** The certificates whose expiry is less than `marginMs` away (or past), and those never obtained. */
  expiring(marginMs: number): ExpiryProblem[] {
    const limit = this.now() + marginMs;
    return [...this.certificates].filter(([, state]) => state.notAfter === undefined || state.notAfter < limit)
      .map(([lineage, state]) => ({ lineage, names: state.names, ...(state.notAfter !== undefined ? { notAfter: new Date(state.notAfter).toISOString() } : {}) }));
  }

  /** Everything, in Prometheus' text format. */
  render(): string {
    const certificates = [...this.certificates];
    const labels = (lineage: string, state: CertificateState) => ({ lineage, names: state.names.join(","), issuer: state.issuer ?? this.issuer() });
    const seconds = (ms: number) => Math.round(ms / 1000);
    const families: MetricFamily[] = [
      {
        name: "bun_acme_certificate_not_after_seconds", type: "gauge", help: "When the certificate served for the lineage expires (Unix time).",
        samples: certificates.filter(([, state]) => state.notAfter !== undefined).map(([lineage, state]) => ({ labels: labels(lineage, state), value: seconds(state.notAfter!) })),
      },
      {
        name: "bun_acme_certificate_next_renewal_seconds", type: "gauge", help: "When the lineage is renewed next (Unix time).",
        samples: certificates.filter(([, state]) => state.nextRenewal !== undefined).map(([lineage, state]) => ({ labels: { lineage }, value: seconds(state.nextRenewal!) })),
      },
      {
        name: "bun_acme_certificate_last_renewal_success", type: "gauge", help: "1 if the lineage's last order succeeded, 0 if it failed.",
        samples: certificates.filter(([, state]) => state.lastOutcome !== undefined).map(([lineage, state]) => ({ labels: { lineage }, value: state.lastOutcome! })),
      },
      {
        name: "bun_acme_certificate_last_renewal_seconds", type: "gauge", help: "When the lineage's last order ended, in success or failure (Unix time).",
        samples: certificates.filter(([, state]) => state.lastOutcomeAt !== undefined).map(([lineage, state]) => ({ labels: { lineage }, value: seconds(state.lastOutcomeAt!) })),
      },
      { name: "bun_acme_orders_total", type: "counter", help: "Certificates ordered, by outcome (obtained: a first one; renewed).", samples: samplesOf(this.orders, "outcome") },
      { name: "bun_acme_order_failures_total", type: "counter", help: "Orders that failed, by ACME problem type (connection: the CA could not be reached).", samples: samplesOf(this.failures, "type") },
      { name: "bun_acme_certificate_swaps_total", type: "counter", help: "Times the HTTPS server took up a new set of certificates.", samples: [{ value: this.swaps() }] },
      { name: "bun_acme_proxied_responses_total", type: "counter", help: "Responses of the reverse proxy, by status code.", samples: samplesOf(this.responses, "code") },
    ];
    return renderExposition(families);
  }

  private count(counter: Map<string, number>, key: string): void {
    counter.set(key, (counter.get(key) ?? 0) + 1);
  }
}

function samplesOf(counter: ReadonlyMap<string, number>, label: string) {
  return [...counter].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => ({ labels: { [label]: key }, value }));
}
