/** What manage() reports about each certificate. */
import type { LineageConfig, StoredLineage } from "../store/index.ts";

/** What happened to a managed certificate. */
export interface ManageEvent {
  /**
   * `damaged`: the stored lineage's key and chain do not belong together (or its files cannot be
   * read); it is not served and is obtained again, the others are untouched.
   */
  readonly type: "obtained" | "renewed" | "updated" | "renewal_failed" | "next_renewal" | "expired" | "warning" | "damaged";
  /** The lineage (the certificate's name in the store); absent for warnings about the server. */
  readonly lineage?: string;
  readonly names?: readonly string[];
  readonly serial?: string;
  readonly notAfter?: string;
  /** The directory URL of the CA that issued the certificate (or, for a fallback warning, that failed). */
  readonly ca?: string;
  /** For `next_renewal`: when; for `renewal_failed`: when it is tried again. */
  readonly at?: string;
  /** For `renewal_failed`: the error, the CA's problem document included when there is one. */
  readonly error?: Error;
  readonly message?: string;
}

/** The event of `type` about `lineage`. */
export function eventOf(type: ManageEvent["type"], lineage: StoredLineage): ManageEvent {
  return {
    type,
    lineage: lineage.config.name,
    names: lineage.config.identifiers.map((identifier) => identifier.value),
    serial: lineage.meta.serial,
    notAfter: lineage.meta.notAfter,
    ...(lineage.meta.directoryUrl ? { ca: lineage.meta.directoryUrl } : {}),
    ...(type === "next_renewal" ? { at: lineage.meta.nextRenewal } : {}),
  };
}

/** The event of `type` about a lineage that has no certificate (yet). */
export function configEvent(type: ManageEvent["type"], config: LineageConfig): ManageEvent {
  return { type, lineage: config.name, names: config.identifiers.map((identifier) => identifier.value) };
}
