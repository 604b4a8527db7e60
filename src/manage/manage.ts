/**
 * Automatic HTTPS for a Bun program: obtain what is missing, serve it, renew it ahead of expiry
 * and swap it in without a restart, as Caddy's CertMagic does for Go.
 */
import { normalizeIdentifiers, systemClock, type ChallengeSolver, type ExternalAccountBinding, type Identifier, type TimerClock } from "../acme/index.ts";
import { ACME_TLS_ALPN_PROTOCOL, Http01Solver, TlsAlpn01Solver } from "../challenges/index.ts";
import type { KeyType } from "../jose/index.ts";
import { IssuerChain, stampEvent, subjectOf, type Untimed } from "../lifecycle/index.ts";
import { hostNameMatches, HotTlsServer, serve, startTlsAlpnServer, TlsFrontServer, type RunningServer, type ServedCertificate } from "../servers/index.ts";
import { defaultLineageName, defaultStoreDir, FileCertificateStore, type CertificateStore, type LineageConfig, type SharedChallenges } from "../store/index.ts";
import { adminHandler, CertificateMetrics } from "../metrics/index.ts";
import type { ManageEvent } from "./events.ts";
import { OnDemand, type OnDemandOptions, type OnDemandWork } from "./on-demand.ts";
import { Renewer, type CertificateServer } from "./renewer.ts";
import { redirectingHandler, SharedHttp01Solver } from "./shared-http01.ts";
import { SharedTlsAlpn01Solver, tlsAlpnLookup } from "./shared-tls-alpn01.ts";

export type { ManageEvent } from "./events.ts";
export type { OnDemandOptions } from "./on-demand.ts";

/** One certificate to manage: its names, and whether the HTTPS server presents it (default: yes). */
export type ManagedCertificate = readonly string[] | { readonly names: readonly string[]; readonly serve?: boolean };

/** One more CA to obtain certificates from: a directory URL or a preset name, its roots and its EAB. */
export interface IssuerEntry {
  readonly directoryUrl: string;
  /** PEM roots that verify the CA, when not the system's. */
  readonly ca?: string;
  readonly eab?: ExternalAccountBinding;
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
  /**
   * CAs to fall back to, in order, after `directoryUrl` (each with its own roots and EAB): when
   * an issuance fails on the CA's side (unreachable, rate-limited, an internal error), the next
   * is tried; every issuance starts at the first again. The certificate records the CA that
   * issued it, and events name it (`ca`).
   */
  readonly issuers?: readonly IssuerEntry[];
  /** The store (default: the file store in the default folder, see `defaultStoreDir`). */
  readonly store?: CertificateStore;
  /**
   * `"http-01"` (default): answered by an HTTP server on `ports.http`, which redirects every
   * other request to HTTPS. `"tls-alpn-01"`: answered by a `node:tls` responder on
   * `ports.tlsAlpn` (required: Bun 1.4.5's `Bun.serve` does not negotiate ALPN, so the HTTPS
   * port cannot answer it; a load balancer routes `acme-tls/1` ClientHellos there). Or a solver,
   * e.g. for dns-01. On a shared store http-01 and tls-alpn-01 answers are published, so any
   * instance answers the CA.
   */
  readonly challenge?: "http-01" | "tls-alpn-01" | ChallengeSolver;
  /**
   * An HTTPS server of the caller's to present the certificates with, instead of one manage()
   * starts (then `hostname`, `ports.https` and `fetch` are not used for HTTPS, and `stop()` leaves
   * it running): e.g. a `CertificateServerView` of a `HotTlsServer` that outlives this call, so
   * that a new configuration can take over without closing a listener.
   */
  readonly server?: CertificateServer;
  /** The program's handler, for every HTTPS request (required unless `server` is given). */
  readonly fetch?: (request: Request, server: Bun.Server<undefined>) => Response | Promise<Response>;
  /** Default `0.0.0.0`. */
  readonly hostname?: string;
  /** Defaults: HTTPS 443, HTTP 80; `tlsAlpn` (no default) for tls-alpn-01. */
  readonly ports?: { readonly https?: number; readonly http?: number; readonly tlsAlpn?: number };
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
   * at 32–42 % fewer requests per second (bench/manage-results.md). With a `server` of the
   * caller's, that server calls `Managed.certificateOnDemand` instead (e.g. a `TlsFrontServer`'s
   * `onUnknownName`).
   */
  readonly onDemand?: OnDemandOptions;
  /** Failed renewals are tried again after `baseDelayMs` (default 60 s), doubling up to `maxDelayMs` (default 1 h). */
  readonly retry?: { readonly baseDelayMs?: number; readonly maxDelayMs?: number };
  /**
   * Certificates obtained or renewed at once (default 4), whatever starts the work: start-up,
   * a renewal coming due, a retry after a failure, an on-demand name. The rest wait their turn
   * without holding a lock, so an instance never holds more store locks or orders in flight.
   */
  readonly concurrency?: number;
  /**
   * A local copy of every certificate served (a folder, or a store), for a shared store: when it
   * cannot be reached at start, the cached certificates are served and the store is tried again
   * with the retry backoff. Without a cache (or a cached certificate), manage() then fails with a
   * clear error.
   */
  readonly cache?: string | CertificateStore;
  /**
   * How often every certificate is compared with the store's (default 60 s, only for stores that
   * announce saves): the fallback for announcements lost while the store restarted.
   */
  readonly checkIntervalMs?: number;
  /** Time and timers for the schedule, the retries and the CA's waits (default: the system clock); tests inject a fake one. */
  readonly clock?: TimerClock;
  /**
   * Prometheus' `/metrics` and a `/healthz` on an address of their own (off by default; hostname
   * default 127.0.0.1): every certificate's expiry, next renewal and last outcome, orders, failures
   * by ACME problem type, swaps. `/healthz` answers 503 when a certificate is within
   * `healthMarginMs` (default 7 days) of its expiry, or has none yet.
   */
  readonly admin?: { readonly hostname?: string; readonly port: number; readonly healthMarginMs?: number };
}

/** A managed server. */
export interface Managed {
  /** The HTTPS port. */
  readonly port: number;
  /** The store the certificates are kept in. */
  readonly store: CertificateStore;
  /** What `/metrics` serves, when `admin` is set (also to feed from elsewhere, e.g. `observeResponse`). */
  readonly metrics?: CertificateMetrics;
  /**
   * With `onDemand`: the certificate for a name the server has none for, obtained now if the name
   * passes the checks (undefined: fail the handshake). What a caller's own server calls.
   */
  readonly certificateOnDemand?: (name: string) => Promise<ServedCertificate | undefined>;
  /** Stops renewing and serving; requests in flight finish. */
  stop(): Promise<void>;
}

/**
 * Serves every certificate the store holds over HTTPS with SNI (expired ones too, with a warning;
 * a self-signed placeholder for names without one yet), obtains what is missing, damaged or due
 * a few at a time, swapping each in as it arrives, and renews each one in the background: at its renewal time (the CA's ARI window, else a
 * third of its lifetime left, plus jitter), retrying failures with capped exponential backoff
 * while the current certificate keeps being served, and swapping the new one in without a
 * restart. On a shared store, instances started together obtain each certificate once, take up
 * what the others save, and answer each other's http-01 and tls-alpn-01 challenges.
 *
 * @example
 * const managed = await manage({
 *   certificates: [["example.net", "www.example.net"]],
 *   directoryUrl: "letsencrypt",
 *   fetch: () => new Response("hello over HTTPS"),
 *   onEvent: (event) => console.log(eventLine(event)), // one JSON line, as the CLI's --json
 * });
 * Resolves once every certificate had its first attempt; one that could not be obtained (the CA
 * unreachable) is retried in the background with backoff and reported by `failed` events.
 *
 * @throws {TypeError} for names that cannot be certified, or options that do not fit together
 * @throws {RangeError} when `concurrency` is not a whole number of at least 1
 * @throws {StoreError} `ERR_STORE_UNAVAILABLE` when the store cannot be reached and nothing is cached
 * @throws {ServerStartError} when a port cannot be bound
 */
export async function manage(options: ManageOptions): Promise<Managed> {
  if (!options.server && !options.fetch) throw new TypeError("manage() needs fetch, the handler of HTTPS requests (or a server of your own)");
  const hostname = options.hostname ?? "0.0.0.0";
  const clock = options.clock ?? systemClock;
  const metrics = options.admin ? new CertificateMetrics({ issuer: options.directoryUrl, swaps: () => swapsOf(https), now: () => clock.now() }) : undefined;
  const emit = (untimed: Untimed<ManageEvent>) => {
    const event = stampEvent<ManageEvent>(untimed, clock.now());
    metrics?.observe(event);
    options.onEvent?.(event);
  };
  const store: CertificateStore = options.store ?? new FileCertificateStore(defaultStoreDir());
  const cache = typeof options.cache === "string" ? new FileCertificateStore(options.cache) : options.cache;
  const shared = store.sharedChallenges?.();
  const { solver, start: startChallengeServer } = challengeOf(options, hostname, shared);
  // Caller mistakes (names that cannot be certified) throw here, before anything is bound.
  const wanted = options.certificates.map((certificate) => {
    const { names, serve: serveIt } = Array.isArray(certificate) ? { names: certificate as readonly string[], serve: true } : certificate as { names: readonly string[]; serve?: boolean };
    return { config: lineageConfig(names, options, solver), serve: serveIt !== false };
  });
  const entries: readonly IssuerEntry[] = [options, ...(options.issuers ?? [])];
  const issuer = new IssuerChain(entries.map((entry) => ({
    directoryUrl: entry.directoryUrl,
    clock,
    solver,
    accountStorage: store.accountStorage(),
    ...(entry.ca ? { ca: entry.ca } : {}),
    ...(options.contact ? { contact: options.contact } : {}),
    ...(entry.eab ? { eab: entry.eab } : {}),
  })), {
    onFallback: (failed, next, error, config) => emit({ type: "warning", ...subjectOf(config), ca: failed, message: `${failed} failed (${error.message}): trying ${next}` }),
  });
  const onDemand = options.onDemand ? new OnDemand(options.onDemand, solver.type, emit) : undefined;
  const onDemandWork: OnDemandWork = { held: (names) => renewer.storeHolds(names), add: (names) => renewer.addSlot(names) };
  const https: CertificateServer = options.server ?? (onDemand
    ? new TlsFrontServer({ hostname, port: options.ports?.https ?? 443, fetch: options.fetch!, onUnknownName: (name) => onDemand.certificateFor(name, onDemandWork) })
    : new HotTlsServer({
      hostname, port: options.ports?.https ?? 443, fetch: options.fetch!,
      onRejected: (certificate, reason) => emit({ type: "warning", names: certificate.names, message: `not served (${reason}): its names get the placeholder until it is replaced` }),
    }));
  const renewer = new Renewer({
    store, ...(cache ? { cache } : {}), issuer, https, emit, clock,
    alwaysServe: onDemand !== undefined,
    configFor: (names) => lineageConfig(names, options, solver),
    ...(options.retry ? { retry: options.retry } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.checkIntervalMs !== undefined ? { checkIntervalMs: options.checkIntervalMs } : {}),
  });
  await untilListening(shared, clock); // hearing the fleet's answers before the first order (cheaper, not needed to be right)
  const challengeServer = await startChallengeServer?.();
  let adminServer: RunningServer | undefined;
  try {
    if (options.admin && metrics) {
      adminServer = serve({ name: "admin server", hostname: options.admin.hostname ?? "127.0.0.1", port: options.admin.port,
        handler: adminHandler(metrics, options.admin.healthMarginMs !== undefined ? { healthMarginMs: options.admin.healthMarginMs } : {}) });
    }
    await renewer.start(wanted);
    return {
      port: https.port,
      store,
      ...(metrics ? { metrics } : {}),
      ...(onDemand ? { certificateOnDemand: (name: string) => onDemand.certificateFor(name, onDemandWork) } : {}),
      async stop() {
        await renewer.stop();
        await Promise.allSettled([https.stop(), challengeServer?.stop(), adminServer?.stop()]);
      },
    };
  } catch (error) {
    await renewer.stop();
    await Promise.allSettled([https.stop(), challengeServer?.stop(), adminServer?.stop()]);
    throw error;
  }
}

/**
 * The longest manage() waits for a shared store to hear the fleet's challenge answers before it
 * goes on without (the answers are then still right, only dearer: published answers are also
 * stored). Redis' own client gives up after about 1.6 s when nothing listens and 5 s when the
 * server does not answer; this bound holds whatever the client's settings, so that a store
 * that is down or slow at start delays no warm start beyond it.
 */
const ANSWERS_READY_WAIT_MS = 1_000;

/** Resolves when the shared answers are heard ({@link SharedChallenges.ready}), after {@link ANSWERS_READY_WAIT_MS} at most. */
async function untilListening(shared: SharedChallenges | undefined, clock: TimerClock): Promise<void> {
  if (!shared?.ready) return;
  let timer: ReturnType<TimerClock["setTimer"]> | undefined;
  const bound = new Promise<void>((resolve) => (timer = clock.setTimer(resolve, ANSWERS_READY_WAIT_MS)));
  await Promise.race([shared.ready().catch(() => {}), bound]);
  timer?.cancel();
}

/** Swaps an HTTPS server made so far (HotTlsServer counts them; other servers report 0). */
function swapsOf(server: CertificateServer): number {
  return "swaps" in server && typeof server.swaps === "number" ? server.swaps : 0;
}

/** The names the HTTP port redirects to HTTPS: those served (with on-demand certificates, any: the handshake decides). */
function redirectedNames(options: ManageOptions): (name: string) => boolean {
  if (options.onDemand) return () => true;
  const names = options.certificates.flatMap((certificate) => "names" in certificate ? (certificate.serve === false ? [] : certificate.names) : certificate);
  return (name) => names.some((pattern) => hostNameMatches(pattern, name));
}

/**
 * The solver for `options.challenge`, and the server that answers the CA for it (none for a
 * solver of the program's own).
 *
 * @throws {TypeError} for tls-alpn-01 without `ports.tlsAlpn`
 */
function challengeOf(options: ManageOptions, hostname: string, shared: SharedChallenges | undefined): { solver: ChallengeSolver; start?: () => Promise<RunningServer> } {
  const httpsPort = options.ports?.https ?? 443;
  if (options.challenge === undefined || options.challenge === "http-01") {
    const local = new Http01Solver();
    return {
      solver: shared ? new SharedHttp01Solver(local, shared) : local,
      start: async () => serve({ name: "http-01 and redirect server", hostname, port: options.ports?.http ?? 80, handler: redirectingHandler(local, shared, httpsPort, redirectedNames(options)) }),
    };
  }
  if (options.challenge === "tls-alpn-01") {
    const port = options.ports?.tlsAlpn;
    if (port === undefined) throw new TypeError("tls-alpn-01 needs ports.tlsAlpn: Bun.serve cannot negotiate ALPN on the HTTPS port, so the validation is answered on a port of its own (route acme-tls/1 there, e.g. HAProxy's req.ssl_alpn)");
    const local = new TlsAlpn01Solver();
    return {
      solver: new SharedTlsAlpn01Solver(local, shared),
      start: () => startTlsAlpnServer({ hostname, port, protocol: ACME_TLS_ALPN_PROTOCOL, certificateFor: tlsAlpnLookup(local, shared) }),
    };
  }
  return { solver: options.challenge };
}

function lineageConfig(names: readonly string[], options: ManageOptions, solver: ChallengeSolver): LineageConfig {
  const identifiers: Identifier[] = normalizeIdentifiers(names, { challenge: solver.type });
  return {
    version: 2,
    name: defaultLineageName(identifiers),
    identifiers,
    directoryUrl: options.directoryUrl,
    allowInsecureHttp: options.directoryUrl.startsWith("http:"),
    keyType: options.keyType ?? "ec256",
    // manage()'s own responders (or the program's solver) answer: nothing a command could start again.
    solver: { type: solver.type, via: "external" },
  };
}
