/**
 * Revocation reasons: the RFC 5280 CRLReason codes an ACME revokeCert request may carry.
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-5.3.1
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.6
 */

/** CRLReason codes by name. 7 is unused in RFC 5280 and not accepted. */
export const REVOCATION_REASONS: Readonly<Record<string, number>> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

/**
 * Reads a revocation reason given by name (case-insensitive, e.g. `keyCompromise`) or number.
 *
 * @throws {RangeError} for anything else, naming the accepted values
 */
export function parseRevocationReason(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const code = Number(trimmed);
    if (Object.values(REVOCATION_REASONS).includes(code)) return code;
  }
  const byName = Object.entries(REVOCATION_REASONS).find(([name]) => name.toLowerCase() === trimmed.toLowerCase());
  if (byName) return byName[1];
  throw new RangeError(
    `"${text}" is not a revocation reason: use one of ${Object.entries(REVOCATION_REASONS).map(([name, code]) => `${name} (${code})`).join(", ")}`,
  );
}
