/**
 * Automatic HTTPS for a Bun program: obtain what is missing, serve it, renew it ahead of expiry
 * and swap it in without a restart, as Caddy's CertMagic does for Go.
 */
import { AcmeProblemError, AcmeTransport, normalizeIdentifiers, type AcmeAccount, type Challenge, type ChallengeSolver, type ExternalAccountBinding, type Identifier } from "../acme/index.ts";
import { HTTP01_PATH_PREFIX, Http01Solver } from "../challenges/index.ts";
import type { KeyType } from "../jose/index.ts";
import { isDue, needsRenewalInfo, obtainLineage, scheduleRenewal } from "../lifecycle/index.ts";
import { HotTlsServer, serve, tcpMigrateRequests, TlsFrontServer, type RunningServer, type ServedCertificate } from "../servers/index.ts";
import { defaultLineageName, defaultStoreDir, FileCertificateStore, openAccount, type CertificateStore, type LineageConfig, type SharedChallenges, type StoredLineage } from "../store/index.ts";
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { Backoff, jitteredDelay, MAX_TIMER_MS } from "./timing.ts";

/** What happened to a managed certificate. */
export interface ManageEvent {
  readonly type: "obtained" | "renewed" | "updated" | "renewal_failed" | "next_renewal" | "expired" | "warning";
  /** The lineage (the certificate's name in the store); absent for warnings about the server. */
  readonly lineage?: string;
  readonly names?: readonly string[];
  readonly serial?: string;
  readonly notAfter?: string;
  /** For `next_renewal`: when; for `renewal_failed`: when it is tried again. */
  readonly at?: string;
  /** For `renewal_failed`: the error, the CA's problem document included when there is one. */
  readonly error?: Error;
  readonly message?: string;
}

/** One certificate to manage: its names, and whether the HTTPS server presents it (default: yes). */
export type ManagedCertificate = readonly string[] | { readonly names: readonly string[]; readonly serve?: boolean };

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

/** What to manage and how. */
export interface ManageOptions {
  /**
   * The names of each certificate, e.g. `[["example.net", "www.example.net"], ["api.example.net"]]`;
   * `{ names, serve: false }` keeps a certificate obtained and renewed in the store without serving it
   * (for another server, with `onEvent` reloading it).
   */
  readonly certificates: readonly ManagedCertificate[];
  /** The CA: a directory URL or a preset name (`letsencrypt`, ...). */
  readonly directoryUrl: string;
  /** PEM roots that verify the CA, when not the system's (a test CA). */
  readonly ca?: string;
  /** The store (default: the file store in the default folder, see `defaultStoreDir`). */
  readonly store?: CertificateStore;
  /**
   * `"http-01"` (default): answered by an HTTP server on `ports.http`, which redirects every
   * other request to HTTPS. Or a solver, e.g. for dns-01. (tls-alpn-01 cannot share a
   * `Bun.serve` port: Bun 1.4.5 does not negotiate ALPN.)
   */
  readonly challenge?: "http-01" | ChallengeSolver;
  /** The program's handler, for every HTTPS request. */
  readonly fetch: (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>;
  /** Default `0.0.0.0`. */
  readonly hostname?: string;
  /** Defaults: HTTPS 443, HTTP 80. */
  readonly ports?: { readonly https?: number; readonly http?: number };
  /** Certificate keys (default `ec256`). */
  readonly keyType?: KeyType;
  /** Account contacts and External Account Binding, used when the store has no account yet. */
  readonly contact?: readonly string[];
  readonly eab?: ExternalAccountBinding;
  /** Receives every event; the default prints nothing. */
  readonly onEvent?: (event: ManageEvent) => void;
  /**
   * Obtain certificates for unknown names during their handshake. The server is then a
   * `node:tls` front (`TlsFrontServer`) instead of `Bun.serve` with TLS: per-handshake selection,
   * at 32–42 % fewer requests per second (bench/manage-results.md).
   */
  readonly onDemand?: OnDemandOptions;
  /** Failed renewals are tried again after `baseDelayMs` (default 60 s), doubling up to `maxDelayMs` (default 1 h). */
  readonly retry?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number };
}

/** A managed server. */
export interface Managed {
  /** The HTTPS port. */
  readonly port: number;
  /** The store the certificates are kept in. */
  readonly store: CertificateStore;
  /** Stops renewing and serving; requests in flight finish. */
  stop(): Promise<void>;
}

/** One managed certificate. */
interface Slot {
  readonly config: LineageConfig;
  readonly serve: boolean;
  current: StoredLineage;
  timer?: ReturnType<typeof setTimeout>;
  backoff: Backoff;
  /** Set while this instance renews it: news of the save it makes itself is not taken up. */
  busy?: boolean;
}

/**
 * Obtains every certificate the store lacks (or that is due), serves them all over HTTPS with
 * SNI, and renews each one in the background: at its renewal time (the CA's ARI window, else a
 * third of its lifetime left, plus jitter), retrying failures with capped exponential backoff
 * while the current certificate keeps being served, and swapping the new one in without a
 * restart.
 *
 * @example
 * const managed = await manage({
 *   certificates: [["example.net", "www.example.net"]],
 *   directoryUrl: "letsencrypt",
 *   fetch: () => new Response("hello over HTTPS"),
 *   onEvent: (event) => console.log(event.type, event.lineage ?? "", event.error?.message ?? ""),
 * });
 * @throws {AcmeError} when a certificate the store does not hold cannot be obtained
 * @throws {ServerStartError} when a port cannot be bound
 */
export async function manage(options: ManageOptions): Promise<Managed> {
  const emit = options.onEvent ?? (() => {});
  const hostname = options.hostname ?? "0.0.0.0";
  const store: CertificateStore = options.store ?? new FileCertificateStore(defaultStoreDir());
  const transport = new AcmeTransport({ directoryUrl: options.directoryUrl, ...(options.ca ? { ca: options.ca } : {}) });
  const shared = store.sharedChallenges?.();
  const local = options.challenge === undefined || options.challenge === "http-01" ? new Http01Solver() : undefined;
  const solver: ChallengeSolver = local ? (shared ? new SharedHttp01Solver(local, shared) : local) : options.challenge as ChallengeSolver;
  const onDemand = options.onDemand ? new OnDemand(options.onDemand, solver.type, emit) : undefined;
  let renewer: Renewer | undefined;
  const https: CertificateServer = onDemand
    ? new TlsFrontServer({ hostname, port: options.ports?.https ?? 443, fetch: options.fetch, onUnknownName: (name) => onDemand.certificateFor(name, (names) => renewer!.addSlot(names)) })
    : new HotTlsServer({ hostname, port: options.ports?.https ?? 443, fetch: options.fetch });
  let challengeServer: RunningServer | undefined;
  if (local) {
    challengeServer = serve({ name: "http-01 and redirect server", hostname, port: options.ports?.http ?? 80, handler: redirectingHandler(local, shared, options.ports?.https ?? 443) });
  }
  const slots: Slot[] = [];
  let stopped = false;
  try {
    const openTheAccount = async () => (await openAccount(transport, {
      storage: store.accountStorage(),
      ...(options.contact ? { contact: options.contact } : {}),
      ...(options.eab ? { eab: options.eab } : {}),
    })).account;
    const account = await openTheAccount();
    const obtain = (config: LineageConfig, replaces?: string) => obtainLineage({ config, transport, account, solver, ...(replaces ? { replaces } : {}) });
    for (const certificate of options.certificates) {
      const { names, serve: serveIt } = Array.isArray(certificate) ? { names: certificate as readonly string[], serve: true } : certificate as { names: readonly string[]; serve?: boolean };
      slots.push(await initialSlot(lineageConfig(names, options, solver), serveIt !== false, store, obtain, emit, options.retry));
    }
    if (slots.some((slot) => slot.serve) || onDemand) await https.serve(servedSlots(slots));
    if (!onDemand && tcpMigrateRequests() === false) {
      emit({ type: "warning", message: "net.ipv4.tcp_migrate_req is 0: connections arriving during a certificate swap may be reset; set it to 1 (Linux 5.14 or later) so that none are" });
    }
    renewer = new Renewer({
      store, transport, account, reopenAccount: openTheAccount, solver, https, slots, emit,
      newSlot: (names) => initialSlot(lineageConfig(names, options, solver), true, store, obtain, emit, options.retry),
    });
    for (const slot of slots) renewer.schedule(slot);
    // A certificate another instance saved is served here within moments, not at this instance's own renewal time.
    const unwatch = await store.watch?.((name) => void renewer!.adopt(name));
    return {
      port: https.port,
      store,
      async stop() {
        stopped = true;
        await unwatch?.();
        for (const slot of slots) clearTimeout(slot.timer);
        await Promise.allSettled([https.stop(), challengeServer?.stop()]);
      },
    };
  } catch (error) {
    if (!stopped) await Promise.allSettled([https.stop(), challengeServer?.stop()]);
    throw error;
  }
}

function lineageConfig(names: readonly string[], options: ManageOptions, solver: ChallengeSolver): LineageConfig {
  const identifiers: Identifier[] = normalizeIdentifiers(names, { challenge: solver.type });
  return {
    version: 1,
    name: defaultLineageName(identifiers),
    identifiers,
    directoryUrl: options.directoryUrl,
    allowInsecureHttp: options.directoryUrl.startsWith("http:"),
    challenge: solver.type,
    keyType: options.keyType ?? "ec256",
    bind: options.hostname ?? "0.0.0.0",
    ports: { http: options.ports?.http ?? 80, tls: options.ports?.https ?? 443, dns: 53 },
    hooks: {},
  };
}

type Obtain = (config: LineageConfig, replaces?: string) => Promise<StoredLineage>;

/** The stored certificate when it covers the names and is not due; else a new one, saved. */
async function initialSlot(config: LineageConfig, serveIt: boolean, store: CertificateStore, obtain: Obtain, emit: (event: ManageEvent) => void, retry: ManageOptions["retry"]): Promise<Slot> {
  const lock = await store.lock(config.name, { waitMs: 120_000 });
  try {
    const stored = await store.load(config.name);
    const sameNames = stored && stored.config.identifiers.map((identifier) => identifier.value).join(",") === config.identifiers.map((identifier) => identifier.value).join(",");
    let current = stored;
    if (!stored || !sameNames || isDue(stored.meta)) {
      current = await obtain(config, sameNames ? stored?.meta.ariCertId : undefined);
      await store.save(current!, lock); // fenced: a store with leases refuses it if the lock was lost
      emit(eventOf(stored ? "renewed" : "obtained", current));
    }
    return { config, serve: serveIt, current: current!, backoff: new Backoff(retry?.baseDelayMs ?? 60_000, retry?.maxDelayMs ?? 3_600_000) };
  } finally {
    await lock.release();
  }
}

function servedSlots(slots: readonly Slot[]): ServedCertificate[] {
  return slots.filter((slot) => slot.serve).map((slot) => ({
    names: slot.config.identifiers.map((identifier) => identifier.value),
    chainPem: slot.current.chainPem,
    keyPem: slot.current.keyPem,
  }));
}

function eventOf(type: ManageEvent["type"], lineage: StoredLineage): ManageEvent {
  return {
    type,
    lineage: lineage.config.name,
    names: lineage.config.identifiers.map((identifier) => identifier.value),
    serial: lineage.meta.serial,
    notAfter: lineage.meta.notAfter,
    ...(type === "next_renewal" ? { at: lineage.meta.nextRenewal } : {}),
  };
}

/** What the renewer works with. */
interface RenewerContext {
  readonly store: CertificateStore;
  readonly transport: AcmeTransport;
  /** The account; opened again (registered again when the CA forgot it) by `reopenAccount`. */
  account: AcmeAccount;
  readonly reopenAccount: () => Promise<AcmeAccount>;
  readonly solver: ChallengeSolver;
  readonly https: CertificateServer;
  readonly slots: Slot[];
  readonly emit: (event: ManageEvent) => void;
  /** Obtains (or loads) a certificate for more names: on demand. */
  readonly newSlot: (names: readonly string[]) => Promise<Slot>;
}

/** Renews each slot at its time, swapping the server's certificates after each renewal. */
class Renewer {
  private readonly context: RenewerContext;

  constructor(context: RenewerContext) {
    this.context = context;
  }

  private emit(event: ManageEvent): void {
    this.context.emit(event);
  }

  /** Takes up a lineage another instance saved (when it is newer than the one served), swaps it in and reschedules. */
  async adopt(name: string): Promise<void> {
    const slot = this.context.slots.find((candidate) => candidate.config.name === name);
    if (!slot || slot.busy) return;
    const stored = await this.context.store.load(name).catch(() => undefined);
    if (!stored || stored.meta.serial === slot.current.meta.serial || Date.parse(stored.meta.notBefore) < Date.parse(slot.current.meta.notBefore)) return;
    slot.current = stored;
    clearTimeout(slot.timer);
    if (slot.serve) await this.context.https.serve(servedSlots(this.context.slots));
    this.emit({ ...eventOf("updated", stored), message: "renewed by another instance" });
    this.schedule(slot);
  }

  /** Adds a certificate for `names` (obtained now unless the store has it), schedules its renewal, and returns it to serve. */
  async addSlot(names: readonly string[]): Promise<ServedCertificate> {
    const slot = await this.context.newSlot(names);
    this.context.slots.push(slot);
    this.schedule(slot);
    return servedSlots([slot])[0]!;
  }

  /** Sets the slot's timer for its renewal time (or its ARI re-check, whichever is first). */
  schedule(slot: Slot, delayMs?: number): void {
    const { meta } = slot.current;
    this.emit(eventOf("next_renewal", slot.current));
    clearTimeout(slot.timer); // one timer per slot, whoever schedules
    const wake = Math.min(Date.parse(meta.nextRenewal), meta.ariRetryAt ? Date.parse(meta.ariRetryAt) : Infinity);
    const delay = delayMs ?? jitteredDelay(wake - Date.now(), Date.parse(meta.notAfter) - Date.parse(meta.notBefore));
    slot.timer = setTimeout(() => void this.wake(slot), Math.min(Math.max(delay, 0), MAX_TIMER_MS));
  }

  private async wake(slot: Slot): Promise<void> {
    try {
      if (needsRenewalInfo(slot.current.meta)) await this.refreshSchedule(slot);
      if (!isDue(slot.current.meta)) return this.schedule(slot);
      slot.busy = true;
      await this.renew(slot).finally(() => (slot.busy = false));
      slot.backoff.reset();
      this.schedule(slot);
    } catch (error) {
      const retryIn = slot.backoff.next();
      const retryAt = new Date(Date.now() + retryIn).toISOString();
      this.emit({ ...eventOf("renewal_failed", slot.current), at: retryAt, error: error as Error, message: (error as Error).message });
      if (Date.parse(slot.current.meta.notAfter) <= Date.now()) {
        this.emit({ ...eventOf("expired", slot.current), message: `the certificate expired at ${slot.current.meta.notAfter} and is still served: no renewal has succeeded` });
      }
      slot.timer = setTimeout(() => void this.wake(slot), retryIn);
    }
  }

  private async renew(slot: Slot): Promise<void> {
    const lock = await this.context.store.lock(slot.config.name, { waitMs: 120_000 });
    try {
      // Another process sharing the store may have renewed it meanwhile.
      const stored = await this.context.store.load(slot.config.name);
      if (stored && stored.meta.serial !== slot.current.meta.serial && !isDue(stored.meta)) {
        slot.current = stored;
      } else {
        const renewed = await this.obtain(slot);
        await this.context.store.save(renewed, lock);
        slot.current = renewed;
        this.emit(eventOf("renewed", renewed));
      }
    } finally {
      await lock.release();
    }
    if (slot.serve) await this.context.https.serve(servedSlots(this.context.slots));
  }

  /** A new certificate; when the CA no longer knows the account (a CA reset), the account is opened again once. */
  private async obtain(slot: Slot): Promise<StoredLineage> {
    const attempt = () => obtainLineage({
      config: slot.config,
      transport: this.context.transport,
      account: this.context.account,
      solver: this.context.solver,
      ...(slot.current.meta.ariCertId ? { replaces: slot.current.meta.ariCertId } : {}),
    });
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof AcmeProblemError) || !error.is("accountDoesNotExist")) throw error;
      this.context.account = await this.context.reopenAccount();
      return attempt();
    }
  }

  private async refreshSchedule(slot: Slot): Promise<void> {
    const leafDer = decodePemBlocks(slot.current.chainPem)[0]!.der;
    const meta = { ...slot.current.meta, ...(await scheduleRenewal(leafDer, readCertificate(leafDer), this.context.transport)) };
    await this.context.store.saveMeta(slot.config.name, meta);
    slot.current = { ...slot.current, meta };
  }
}

/**
 * http-01 answers (this instance's, else the fleet's from the store); everything else is
 * redirected to the same path over HTTPS.
 */
function redirectingHandler(solver: Http01Solver, shared: SharedChallenges | undefined, httpsPort: number): (request: Request) => Response | Promise<Response> {
  return async (request) => {
    const answer = solver.handle(request);
    if (answer.status !== 404 || !request.headers.get("host")) return answer;
    const url = new URL(request.url, `http://${request.headers.get("host")}`);
    if (url.pathname.startsWith(HTTP01_PATH_PREFIX)) {
      const published = shared && request.method === "GET" ? await shared.answer(url.pathname.slice(HTTP01_PATH_PREFIX.length)).catch(() => undefined) : undefined;
      return published === undefined ? answer : new Response(published, { headers: { "content-type": "application/octet-stream" } });
    }
    url.protocol = "https:";
    url.port = httpsPort === 443 ? "" : String(httpsPort);
    return Response.redirect(url.href, 308);
  };
}

/** What manage() serves with: `HotTlsServer` (Bun.serve) or `TlsFrontServer` (node:tls, on demand). */
interface CertificateServer {
  readonly port: number;
  serve(certificates: readonly ServedCertificate[]): Promise<void>;
  stop(): Promise<void>;
}

/** The gatekeeper of on-demand certificates: name syntax, deny list, rate limit, `allow`, one issuance per name at a time. */
class OnDemand {
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

/** http-01 for a fleet: answered here, and published to the store for the other instances. */
class SharedHttp01Solver implements ChallengeSolver {
  readonly type = "http-01";
  private readonly local: Http01Solver;
  private readonly shared: SharedChallenges;

  constructor(local: Http01Solver, shared: SharedChallenges) {
    this.local = local;
    this.shared = shared;
  }

  async present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> {
    this.local.present(identifier, challenge, keyAuthorization);
    await this.shared.publish(challenge.token, keyAuthorization, 10 * 60_000);
  }

  async cleanup(identifier: Identifier, challenge: Challenge): Promise<void> {
    this.local.cleanup(identifier, challenge);
    await this.shared.withdraw(challenge.token);
  }
}
