/**
 * When a stored certificate is renewed: at a moment in the CA's ARI window (asked again when the
 * CA's Retry-After passes), else when a third of its validity is left.
 * @see https://www.rfc-editor.org/rfc/rfc9773#section-4.2
 */
import { ariCertId, chooseRenewalTime, getRenewalInfo, type AcmeTransport } from "../acme/index.ts";
import type { CertificateInfo } from "../asn1/index.ts";
import type { LineageMeta } from "../store/index.ts";

/** How long a renewalInfo answer without Retry-After is trusted (RFC 9773 §4.3 suggests polling about twice a day). */
const DEFAULT_ARI_RECHECK_MS = 6 * 3_600_000;

/** The scheduling part of a lineage's metadata. */
export type Schedule = Pick<LineageMeta, "nextRenewal" | "renewalSource" | "ariRetryAt" | "ariCertId">;

/**
 * Asks the CA's renewalInfo (when its directory offers it and the certificate has an ARI ID) and
 * picks the renewal moment; without ARI, 2/3 of the validity period.
 *
 * @throws {AcmeError} when the CA cannot be reached or answers renewalInfo malformed
 */
export async function scheduleRenewal(
  leafDer: Uint8Array,
  leaf: CertificateInfo,
  transport: AcmeTransport | undefined,
  now: number = Date.now(),
): Promise<Schedule> {
  const certId = leaf.authorityKeyIdentifier ? ariCertId(leafDer) : undefined;
  const renewalInfo = transport && certId ? await getRenewalInfo(transport, certId) : undefined;
  const advice = chooseRenewalTime(leaf, renewalInfo, new Date(now));
  return {
    nextRenewal: advice.renewAt.toISOString(),
    renewalSource: advice.source,
    ...(certId ? { ariCertId: certId } : {}),
    ...(advice.source === "renewalInfo" ? { ariRetryAt: new Date(now + (advice.retryAfterMs ?? DEFAULT_ARI_RECHECK_MS)).toISOString() } : {}),
  };
}

/** Whether the lineage is due for renewal at `now`. */
export function isDue(meta: LineageMeta, now: number = Date.now()): boolean {
  return Date.parse(meta.nextRenewal) <= now;
}

/** Whether the CA's renewalInfo should be asked again before deciding (its Retry-After has passed). */
export function needsRenewalInfo(meta: LineageMeta, now: number = Date.now()): boolean {
  return meta.renewalSource === "renewalInfo" && (meta.ariRetryAt === undefined || Date.parse(meta.ariRetryAt) <= now);
}
