/**
 * The one event type of bun-acme: what `manage()` tells `onEvent`, what `certonly`, `renew` and
 * `certificates` print with `--json`, and what the `serve` daemon prints, as CertMagic has one
 * event stream for every certificate state change. Where the engine ran, the event is derived
 * from its tagged outcome ({@link outcomeEvent}); failures carry the CA's problem document whole.
 */
import { AcmeAuthorizationError, AcmeOrderError, AcmeProblemError, type AcmeProblem } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import type { ProxyLogEntry } from "../servers/index.ts";
import type { LineageConfig, StoredLineage } from "../store/index.ts";
import type { LineageOutcome } from "./ensure.ts";

/** Who an event is about: the lineage (the certificate's name in the store), its names, its CA. */
export interface EventSubject {
  readonly lineage: string;
  readonly names: readonly string[];
  /** The directory URL of the CA that issued the certificate (without one yet: the CA it is obtained from). */
  readonly ca?: string;
}

/** What an event says of a stored certificate. */
export interface EventCertificate extends EventSubject {
  /** Hexadecimal, as the store keeps it. */
  readonly serial: string;
  /** ISO 8601. */
  readonly notAfter: string;
  /** ISO 8601: when it is renewed (the CA's ARI window, else a third of its lifetime left). */
  readonly nextRenewal: string;
}

/** Why something failed: one line, the error's stable `code`, and the CA's problem document whole. */
export interface EventFailure {
  readonly error: string;
  /** {@link BunAcmeError}'s `code` (`ERR_ACME_PROBLEM`, `ERR_STORE_LOCKED`, ...), when the error has one. */
  readonly code?: string;
  /** The CA's problem document, kept whole. @see https://www.rfc-editor.org/rfc/rfc8555#section-6.7 */
  readonly problem?: AcmeProblem;
}

/** What the CA advises about renewing a certificate (the `renewal-info` command). @see https://www.rfc-editor.org/rfc/rfc9773 */
export interface EventRenewalAdvice {
  /** The certificate file asked about. */
  readonly certificate: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly renewAt: string;
  /** `renewalInfo`: a moment in the CA's window; `lifetime`: two thirds of the validity period. */
  readonly source: "renewalInfo" | "lifetime";
  readonly window?: { readonly start: string; readonly end: string };
  readonly explanationUrl?: string;
  readonly askAgainAfter?: string;
}

/** What every event has: its `type`, and `time` (ISO 8601), when it was emitted. */
export interface EventHead<Type extends string> {
  readonly type: Type;
  readonly time: string;
}

/**
 * Everything that happens to a certificate, and to the daemon serving it, as one union on
 * `type`. Certificate events: `obtained` (a first certificate, or one replacing a damaged
 * lineage), `renewed`, `dry_run` (issued, nothing saved), `not_due` (nothing ordered), `updated`
 * (another instance renewed it), `next_renewal`, `expired` (still served: no renewal succeeded),
 * `damaged` (key and chain do not belong together; obtained again), `failed` (with `at`, when it
 * is tried again), `lineage` (one stored lineage, listed), `renewal_info` and `warning`. The
 * daemon's own: `serving`, `config_reloaded`, `config_rejected`, `hook_failed`, `request` (the
 * access log), `proxy_error`, `stopped`. One JSON line each: {@link eventLine}.
 */
export type LifecycleEvent =
  | (EventHead<"obtained"> & EventCertificate & { readonly damage?: string; readonly folder?: string; readonly hookError?: string })
  | (EventHead<"renewed"> & EventCertificate & { readonly previousSerial: string; readonly folder?: string; readonly hookError?: string })
  | (EventHead<"dry_run"> & EventCertificate)
  | (EventHead<"not_due"> & EventCertificate)
  | (EventHead<"updated"> & EventCertificate & { readonly message: string })
  | (EventHead<"next_renewal"> & EventCertificate & { readonly at: string })
  | (EventHead<"expired"> & EventCertificate & { readonly message: string })
  | (EventHead<"lineage"> & EventCertificate & {
    readonly folder?: string; readonly problems?: readonly string[]; readonly status?: "expired" | "invalid";
    /** The issuing certificate's common name (the CA's directory URL is `ca`). */
    readonly issuerName?: string;
    /** Whether its renewal time has come: `renew` would renew it now. */
    readonly due?: boolean;
    /** What set `nextRenewal`: the CA's renewal information (RFC 9773) or the certificate's lifetime. */
    readonly renewalSource?: string;
    /** When the CA's renewal information is to be asked again. */
    readonly ariRetryAt?: string;
  })
  | (EventHead<"failed"> & EventSubject & Partial<EventCertificate> & EventFailure & { /** When it is tried again. */ readonly at?: string })
  | (EventHead<"damaged"> & EventSubject & { readonly message: string })
  | (EventHead<"warning"> & Partial<EventCertificate> & { readonly message: string })
  | (EventHead<"renewal_info"> & EventRenewalAdvice)
  | (EventHead<"serving"> & { readonly hostname: string; readonly port?: number; readonly sites: number; readonly served: number; readonly store: string; readonly onDemandSites?: number; readonly ask?: string })
  | (EventHead<"config_reloaded"> & { readonly sites: number })
  | (EventHead<"config_rejected"> & { readonly error: string })
  | (EventHead<"hook_failed"> & Partial<EventSubject> & {
    /** Which hook: `pre` and `post` run once around a command's renewals (no lineage), `deploy` for one lineage. */
    readonly hook: "pre" | "post" | "deploy";
    readonly error: string; readonly code?: string; readonly exitCode?: number; readonly output?: string;
  })
  | (EventHead<"request"> & Omit<ProxyLogEntry, "time">)
  | (EventHead<"proxy_error"> & { readonly host?: string; readonly status: number; readonly error: string; readonly detail?: string })
  | EventHead<"stopped">;

/** The `type`s of {@link LifecycleEvent}. */
export type LifecycleEventType = LifecycleEvent["type"];

/** The events of the given type(s), e.g. `EventOf<"renewed">`. */
export type EventOf<Type extends LifecycleEventType> = Extract<LifecycleEvent, { readonly type: Type }>;

/** Events (a union of them) before they are emitted, without `time`. */
export type Untimed<Event extends LifecycleEvent> = Event extends LifecycleEvent ? Omit<Event, "time"> : never;

/** An event before it is emitted: whoever emits it stamps its `time` ({@link stampEvent}). */
export type UntimedEvent = Untimed<LifecycleEvent>;

/** The event with `time` set to `now` (milliseconds), unless it has one. */
export function stampEvent<Event extends LifecycleEvent = LifecycleEvent>(event: NoInfer<Untimed<Event> | Event>, now: number): Event {
  return { time: new Date(now).toISOString(), ...event } as Event;
}

/** The subject of an event about a lineage's configuration (no certificate yet). */
export function subjectOf(config: LineageConfig): EventSubject {
  return { lineage: config.name, names: config.identifiers.map((identifier) => identifier.value), ca: config.directoryUrl };
}

/** The fields of an event about a stored certificate. */
export function certificateOf(lineage: Pick<StoredLineage, "config" | "meta">): EventCertificate {
  return {
    ...subjectOf(lineage.config),
    ...(lineage.meta.directoryUrl ? { ca: lineage.meta.directoryUrl } : {}),
    serial: lineage.meta.serial,
    notAfter: lineage.meta.notAfter,
    nextRenewal: lineage.meta.nextRenewal,
  };
}

/** What an event says of an error: its message (or `error`, a line of the caller's), its `code`, the CA's problem document. */
export function failureOf(error: unknown, line?: string): EventFailure {
  return {
    error: line ?? (error instanceof Error ? error.message : String(error)),
    ...(error instanceof BunAcmeError ? { code: error.code } : {}),
    ...problemOf(error),
  };
}

/**
 * The event that reports what {@link ensureLineage} did for `config`: `not_due` (usable, nothing
 * ordered), `updated` (another instance renewed it), `obtained`, `renewed`, `dry_run` (issued,
 * not saved), or `failed` for a lock another holder kept.
 */
export function outcomeEvent(outcome: LineageOutcome, config: LineageConfig): Untimed<EventOf<"not_due" | "updated" | "failed" | "obtained" | "renewed" | "dry_run">> {
  switch (outcome.kind) {
    case "unchanged":
      return { type: "not_due", ...certificateOf(outcome.lineage) };
    case "taken-up":
      return { type: "updated", ...certificateOf(outcome.lineage), message: "renewed by another instance" };
    case "locked-elsewhere":
      return { type: "failed", ...(outcome.lineage ? certificateOf(outcome.lineage) : subjectOf(config)), ...failureOf(outcome.held) };
    case "obtained":
      if (!outcome.saved) return { type: "dry_run", ...certificateOf(outcome.lineage) };
      return { type: "obtained", ...certificateOf(outcome.lineage), ...(outcome.damage ? { damage: outcome.damage } : {}) };
    case "renewed":
      if (!outcome.saved) return { type: "dry_run", ...certificateOf(outcome.lineage) };
      return { type: "renewed", ...certificateOf(outcome.lineage), previousSerial: outcome.previous.meta.serial };
  }
}

/**
 * The event that reports a failure about `about` (a lineage's configuration, or the certificate
 * it holds), `at` the time it is tried again.
 */
export function failureEvent(about: LineageConfig | StoredLineage, error: unknown, options: { readonly at?: string; readonly line?: string } = {}): Untimed<EventOf<"failed">> {
  const subject = "meta" in about ? certificateOf(about) : subjectOf(about);
  return { type: "failed", ...subject, ...failureOf(error, options.line), ...(options.at ? { at: options.at } : {}) };
}

/** The CA's problem document an error carries: a problem response, or the one a failed authorization or order ended with. */
function problemOf(error: unknown): { problem?: AcmeProblem } {
  if (error instanceof AcmeProblemError) return { problem: error.problem };
  if ((error instanceof AcmeAuthorizationError || error instanceof AcmeOrderError) && error.problem) return { problem: error.problem };
  return {};
}
