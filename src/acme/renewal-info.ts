/**
 * ACME Renewal Information (ARI): when the CA suggests renewing a certificate.
 * @see https://www.rfc-editor.org/rfc/rfc9773
 */
import { readCertificate } from "../asn1/index.ts";
import { encodeBase64Url } from "../encoding/index.ts";
import { AcmeProtocolError } from "./errors.ts";
import type { AcmeTransport } from "./transport.ts";

/** A renewalInfo object. @see https://www.rfc-editor.org/rfc/rfc9773#section-4.2 */
export interface RenewalInfo {
  readonly suggestedWindow: { readonly start: string; readonly end: string };
  readonly explanationURL?: string;
}

/** When to renew, and why. */
export interface RenewalAdvice {
  /** The chosen moment (inside the CA's window, or at 2/3 of the validity period). */
  readonly renewAt: Date;
  readonly source: "renewalInfo" | "lifetime";
  readonly window?: { readonly start: Date; readonly end: Date };
  readonly explanationURL?: string;
  /** When to ask the CA again (its `Retry-After`). */
  readonly retryAfterMs?: number;
}

/**
 * The ARI certificate identifier: base64url(AKI keyIdentifier) "." base64url(serial number octets).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9773#section-4.1
 * @throws {RangeError} when the certificate has no Authority Key Identifier
 */
export function ariCertId(certificateDer: Uint8Array): string {
  const { authorityKeyIdentifier, serialNumber } = readCertificate(certificateDer);
  if (!authorityKeyIdentifier) throw new RangeError("Cannot compute the ARI certificate ID: the certificate has no Authority Key Identifier");
  return `${encodeBase64Url(authorityKeyIdentifier)}.${encodeBase64Url(serialNumber)}`;
}

/**
 * Fetches the CA's renewalInfo for a certificate (an unauthenticated GET), or `undefined` when
 * the directory offers no `renewalInfo` (Pebble 2.4.0 does not).
 *
 * @see https://www.rfc-editor.org/rfc/rfc9773#section-4.2
 * @throws {AcmeProtocolError} for a malformed answer
 */
export async function getRenewalInfo(transport: AcmeTransport, certId: string): Promise<{ info: RenewalInfo; retryAfterMs: number | undefined } | undefined> {
  const { renewalInfo } = await transport.getDirectory();
  if (!renewalInfo) return undefined;
  const url = `${renewalInfo.replace(/\/$/, "")}/${certId}`;
  const response = await transport.get(url);
  const body = response.body as { suggestedWindow?: { start?: unknown; end?: unknown }; explanationURL?: unknown } | undefined;
  const start = body?.suggestedWindow?.start;
  const end = body?.suggestedWindow?.end;
  if (response.status !== 200 || typeof start !== "string" || typeof end !== "string" || Number.isNaN(Date.parse(start)) || Number.isNaN(Date.parse(end))) {
    throw new AcmeProtocolError(`The CA's renewalInfo ${url} answered HTTP ${response.status} without a valid suggestedWindow`);
  }
  const explanationURL = typeof body?.explanationURL === "string" ? body.explanationURL : undefined;
  return { info: { suggestedWindow: { start, end }, ...(explanationURL ? { explanationURL } : {}) }, retryAfterMs: response.retryAfterMs };
}

/**
 * Picks when to renew: a uniformly random moment inside the CA's suggested window (spreading
 * renewals, as RFC 9773 §4.2 asks), or now when the window has already ended; without ARI, at
 * 2/3 of the certificate's validity period.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9773#section-4.2
 */
export function chooseRenewalTime(
  certificate: { readonly notBefore: Date; readonly notAfter: Date },
  renewalInfo: { info: RenewalInfo; retryAfterMs: number | undefined } | undefined,
  now: Date = new Date(),
  random: () => number = Math.random,
): RenewalAdvice {
  if (!renewalInfo) {
    const lifetime = certificate.notAfter.getTime() - certificate.notBefore.getTime();
    return { renewAt: new Date(certificate.notBefore.getTime() + (lifetime * 2) / 3), source: "lifetime" };
  }
  const start = new Date(renewalInfo.info.suggestedWindow.start);
  const end = new Date(renewalInfo.info.suggestedWindow.end);
  const renewAt = end.getTime() <= now.getTime() ? now : new Date(Math.max(start.getTime(), now.getTime()) + random() * (end.getTime() - Math.max(start.getTime(), now.getTime())));
  return {
    renewAt,
    source: "renewalInfo",
    window: { start, end },
    ...(renewalInfo.info.explanationURL ? { explanationURL: renewalInfo.info.explanationURL } : {}),
    ...(renewalInfo.retryAfterMs !== undefined ? { retryAfterMs: renewalInfo.retryAfterMs } : {}),
  };
}
