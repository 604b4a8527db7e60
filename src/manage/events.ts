/** What manage() reports about each certificate. */
import type { StoredLineage } from "../store/index.ts";

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

/** The event of `type` about `lineage`. */
export function eventOf(type: ManageEvent["type"], lineage: StoredLineage): ManageEvent {
  return {
    type,
    lineage: lineage.config.name,
    names: lineage.config.identifiers.map((identifier) => identifier.value),
    serial: lineage.meta.serial,
    notAfter: lineage.meta.notAfter,
    ...(type === "next_renewal" ? { at: lineage.meta.nextRenewal } : {}),
  };
}
