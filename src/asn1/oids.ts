/**
 * The object identifiers and tags the CSR, certificate and key code writes and reads, in one
 * table each. (Key and signature algorithm OIDs live in the key algorithm table, `src/jose`.)
 */

/** Object identifiers, by name. */
export const Oid = {
  /** X.520 id-at-commonName. @see https://www.rfc-editor.org/rfc/rfc5280#appendix-A.1 */
  commonName: "2.5.4.3",
  /** id-ce-subjectAltName. @see https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6 */
  subjectAltName: "2.5.29.17",
  /** id-ce-authorityKeyIdentifier. @see https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.1 */
  authorityKeyIdentifier: "2.5.29.35",
  /** id-pe-acmeIdentifier. @see https://www.rfc-editor.org/rfc/rfc8737#section-6.1 */
  acmeIdentifier: "1.3.6.1.5.5.7.1.31",
  /** PKCS#9 extensionRequest. @see https://www.rfc-editor.org/rfc/rfc2985#section-5.4.2 */
  extensionRequest: "1.2.840.113549.1.9.14",
} as const;

/** Context-specific tags as they appear on the wire (class bits and constructed bit included). */
export const ContextTag = {
  /** `[0] EXPLICIT`: a certificate's version, SEC1's curve parameters. */
  explicit0: 0xa0,
  /** `[3] EXPLICIT`: a certificate's extensions. */
  explicit3: 0xa3,
  /** `[0] IMPLICIT OCTET STRING`: AuthorityKeyIdentifier's keyIdentifier. */
  keyIdentifier: 0x80,
  /** GeneralName `dNSName [2] IA5String`. */
  dnsName: 0x82,
  /** GeneralName `iPAddress [7] OCTET STRING`. */
  ipAddress: 0x87,
} as const;
