/**
 * On-demand certificates (CertMagic's "on-demand TLS"): which names may be obtained during a
 * handshake, at what rate, and one issuance per name at a time.
 */
import { normalizeIdentifiers, systemClock, type ChallengeSolver, type Clock, type Identifier } from "../acme/index.ts";
import type { ServedCertificate } from "../servers/index.ts";
import { failureOf, type Untimed } from "../lifecycle/index.ts";
import type { ManageEvent } from "./events.ts";

/**
 * Certificates obtained during the handshake that asks for them (CertMagic's "on-demand TLS"),
 * for names `allow` accepts; bounded so that strangers cannot make the server order certificates
 * for any name they send.
 */
export interface OnDemandOptions {
  /** Whether to obtain a certificate for this name (it is already a valid DNS name, lowercase, in ASCII). */
  allow(name: string): boolean | Promise<boolean>;
  /**
   * Whether the name is one this server could serve at all (e.g. the daemon's `on_demand` sites'
   * patterns), checked at once, before `allow` is asked: a name it refuses costs nothing.
   */
  covers?(name: string): boolean;
  /**
   * Names never obtained on demand: exact, or `*.example.net` for every name under it; compared
   * as DNS compares them (any case, with or without a trailing dot, Unicode or its `xn--` form).
   */
  readonly deny?: readonly string[];
  /** Certificates ordered on demand per minute, all names together (default 10); a name whose certificate the store holds is not counted. */
  readonly maxPerMinute?: number;
}

const MINUTE_MS = 60_000;
/**
 * `allow` answers awaited at once, at most: names beyond are refused at once, so that a burst of
 * strangers' names cannot queue requests to an `ask` endpoint without bound.
 */
const ASKS_AT_ONCE = 16;

/**
 * A name as DNS compares it: lowercase, no trailing dot, Unicode labels in their ASCII (`xn--`)
 * form (as WHATWG URL's host parser does, UTS #46); `*.` kept in front. `undefined` when it
 * cannot be a host name.
 */
export function comparableName(name: string): string | undefined {
  const wildcard = name.startsWith("*.");
  const rest = (wildcard ? name.slice(2) : name).replace(/\.$/, "");
  if (rest === "" || /[/?#@:\s\\[\]]/.test(rest)) return undefined;
  let host: string;
  try {
    host = new URL(`http://${rest}/`).hostname;
  } catch {
    return undefined;
  }
  // The URL parser reads "123" or "0x7f.1" as IPv4 addresses: a name that was not already one is refused.
  if (/^[\d.]+$/.test(host) && host !== rest) return undefined;
  return wildcard ? `*.${host}` : host;
}

/** What the gatekeeper asks of manage() for a name it admits. */
export interface OnDemandWork {
  /** Whether the store already holds a certificate the names are served from as it is (nothing to order). */
  held(names: readonly string[]): Promise<boolean>;
  /** Adds the names' certificate (obtained, or loaded from the store); `ordered` says whether an order was placed for it. */
  add(names: readonly string[]): Promise<{ readonly served: ServedCertificate; readonly ordered: boolean }>;
}

/** A name let through: when it took its share of the minute's budget (none when the store held its certificate). */
interface Admission {
  readonly taken?: number;
}

/**
 * The gatekeeper of on-demand certificates: name syntax, deny list, `covers`, `allow` (at most
 * {@link ASKS_AT_ONCE} at once), rate limit, one issuance per name. Only certificates ordered
 * count against `maxPerMinute`: a name whose certificate the store already holds (after a
 * restart, or obtained by another instance) is served from there without a share of the budget.
 */
export class OnDemand {
  private readonly options: OnDemandOptions;
  private readonly challenge: ChallengeSolver["type"];
  private readonly emit: (event: Untimed<ManageEvent>) => void;
  private readonly clock: Pick<Clock, "now">;
  private readonly deny: readonly string[];
  /** When each share of the budget was taken (once `allow` said yes; given back if nothing was ordered). */
  private readonly recent: number[] = [];
  /** `allow` answers awaited now. */
  private asking = 0;
  /** Names refused because {@link ASKS_AT_ONCE} were being asked about, since the last warning (one a minute at most). */
  private crowded = { refused: 0, warnedAt: -Infinity };
  private readonly inFlight = new Map<string, Promise<ServedCertificate | undefined>>();
  /** Names obtained here, so that another spelling of one (a trailing dot, capitals) never orders it again. */
  private readonly obtained = new Map<string, ServedCertificate>();

  /** @throws {TypeError} for a deny entry that cannot be a host name */
  constructor(options: OnDemandOptions, challenge: ChallengeSolver["type"], emit: (event: Untimed<ManageEvent>) => void, clock: Pick<Clock, "now"> = systemClock) {
    this.options = options;
    this.challenge = challenge;
    this.emit = emit;
    this.clock = clock;
    this.deny = (options.deny ?? []).map((entry) => {
      const comparable = comparableName(entry);
      if (comparable === undefined) throw new TypeError(`Cannot use on-demand deny entry "${entry}": it is not a host name or *.name`);
      return comparable;
    });
  }

  /**
   * The certificate for a name the server has none for: one obtained here before under any
   * spelling of that name, or a new one if the name passes every check. Its `names` include the
   * spelling asked for, so that the server finds it under that spelling too.
   */
  certificateFor(sni: string, work: OnDemandWork): Promise<ServedCertificate | undefined> {
    const comparable = comparableName(sni);
    let name: string;
    try {
      if (comparable === undefined || comparable.startsWith("*.")) return Promise.resolve(undefined);
      [{ value: name }] = normalizeIdentifiers([comparable], { challenge: this.challenge }) as [Identifier];
    } catch {
      return Promise.resolve(undefined);
    }
    const asked = sni.toLowerCase();
    const withSpelling = (served: ServedCertificate | undefined) =>
      served && !served.names.includes(asked) ? { ...served, names: [...served.names, asked] } : served;
    const known = this.obtained.get(name);
    if (known) return Promise.resolve(withSpelling(known));
    let pending = this.inFlight.get(name);
    if (!pending) {
      pending = this.admit(name, work).then(async (admission) => {
        if (!admission) return undefined;
        const { served, ordered } = await work.add([name]);
        this.settle(admission, ordered);
        this.obtained.set(name, served);
        return served;
      }).catch((error: unknown) => {
        this.emit({ type: "failed", lineage: name, names: [name], ...failureOf(error, `on demand: ${(error as Error).message}`) });
        return undefined;
      }).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, pending);
    }
    return pending.then(withSpelling);
  }

  /**
   * Whether `name` may be served now, in the order of what each check costs: the deny list and
   * `covers` (nothing), `allow` (one answer of the application's, {@link ASKS_AT_ONCE} at once at
   * most), then a share of the minute's budget, taken at once after `allow` said yes so that the
   * budget is never overshot and only names `allow` accepts hold a share. When the budget is
   * spent the store is asked (one read, for an allowed name only) whether it holds the name's
   * certificate, which is then served without a share.
   */
  private async admit(name: string, work: OnDemandWork): Promise<Admission | undefined> {
    if (this.deny.some((entry) => entry === name || (entry.startsWith("*.") && name.endsWith(entry.slice(1))))) return undefined;
    if (this.options.covers?.(name) === false) return undefined;
    if (this.asking >= ASKS_AT_ONCE) return this.crowdedOut();
    this.asking++;
    try {
      if (!(await this.options.allow(name))) return undefined;
    } finally {
      this.asking--;
    }
    const taken = this.take();
    if (taken !== undefined) return { taken };
    if (await work.held([name]).catch(() => false)) return {};
    this.emit({ type: "warning", lineage: name, message: `on demand: ${name} refused, ${this.recent.length} certificates already ordered on demand this minute` });
    return undefined;
  }

  /** Refuses a name while {@link ASKS_AT_ONCE} are being asked about; says so once a minute at most. */
  private crowdedOut(): undefined {
    this.crowded.refused++;
    const now = this.clock.now();
    if (now - this.crowded.warnedAt >= MINUTE_MS) {
      this.emit({ type: "warning", message: `on demand: ${this.crowded.refused} name(s) refused: ${ASKS_AT_ONCE} names were already waiting for allow's answer` });
      this.crowded = { refused: 0, warnedAt: now };
    }
    return undefined;
  }

  /** A share of this minute's budget (its time), or none when the budget is spent. */
  private take(): number | undefined {
    const now = this.clock.now();
    while (this.recent.length > 0 && this.recent[0]! <= now - MINUTE_MS) this.recent.shift();
    if (this.recent.length >= (this.options.maxPerMinute ?? 10)) return undefined;
    this.recent.push(now);
    return now;
  }

  /**
   * Only orders count: a share taken for a certificate that was not ordered after all (another
   * instance saved it meanwhile) is given back; an order placed though the store held the
   * certificate when asked (it was due, damaged, or removed meanwhile) is counted now.
   */
  private settle(admission: Admission, ordered: boolean): void {
    if (admission.taken !== undefined && !ordered) this.giveBack(admission.taken);
    if (admission.taken === undefined && ordered) this.recent.push(this.clock.now());
  }

  private giveBack(taken: number): void {
    const index = this.recent.indexOf(taken);
    if (index >= 0) this.recent.splice(index, 1);
  }
}
