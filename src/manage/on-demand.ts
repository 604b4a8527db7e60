/**
 * On-demand certificates (CertMagic's "on-demand TLS"): which names may be obtained during a
 * handshake, at what rate, and one issuance per name at a time.
 */
import { normalizeIdentifiers, type ChallengeSolver, type Identifier } from "../acme/index.ts";
import type { ServedCertificate } from "../servers/index.ts";
import type { ManageEvent } from "./events.ts";

/**
 * Certificates obtained during the handshake that asks for them (CertMagic's "on-demand TLS"),
 * for names `allow` accepts; bounded so that strangers cannot make the server order certificates
 * for any name they send.
 */
export interface OnDemandOptions {
  /** Whether to obtain a certificate for this name (it is already a valid DNS name). */
  allow(name: string): boolean | Promise<boolean>;
  /** Names never obtained on demand: exact, or `*.example.net` for every name under it. */
  readonly deny?: readonly string[];
  /** New on-demand certificates per minute, all names together (default 10). */
  readonly maxPerMinute?: number;
}

/** The gatekeeper of on-demand certificates: name syntax, deny list, rate limit, `allow`, one issuance per name at a time. */
export class OnDemand {
  private readonly options: OnDemandOptions;
  private readonly challenge: ChallengeSolver["type"];
  private readonly emit: (event: ManageEvent) => void;
  private readonly recent: number[] = [];
  private readonly inFlight = new Map<string, Promise<ServedCertificate | undefined>>();

  constructor(options: OnDemandOptions, challenge: ChallengeSolver["type"], emit: (event: ManageEvent) => void) {
    this.options = options;
    this.challenge = challenge;
    this.emit = emit;
  }

  certificateFor(sni: string, add: (names: readonly string[]) => Promise<ServedCertificate>): Promise<ServedCertificate | undefined> {
    let name: string;
    try {
      [{ value: name }] = normalizeIdentifiers([sni], { challenge: this.challenge }) as [Identifier];
    } catch {
      return Promise.resolve(undefined);
    }
    const pending = this.inFlight.get(name);
    if (pending) return pending;
    const work = this.admit(name).then((admitted) => (admitted ? add([name]) : undefined)).catch((error: unknown) => {
      this.emit({ type: "renewal_failed", lineage: name, names: [name], error: error as Error, message: `on demand: ${(error as Error).message}` });
      return undefined;
    }).finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, work);
    return work;
  }

  private async admit(name: string): Promise<boolean> {
    const denied = (this.options.deny ?? []).some((entry) => entry === name || (entry.startsWith("*.") && name.endsWith(entry.slice(1))));
    if (denied) return false;
    const now = Date.now();
    while (this.recent.length > 0 && this.recent[0]! <= now - 60_000) this.recent.shift();
    if (this.recent.length >= (this.options.maxPerMinute ?? 10)) {
      this.emit({ type: "warning", lineage: name, message: `on demand: ${name} refused, ${this.recent.length} certificates already obtained on demand this minute` });
      return false;
    }
    if (!(await this.options.allow(name))) return false;
    this.recent.push(now);
    return true;
  }
}

