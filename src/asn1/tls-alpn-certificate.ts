import { subjectAltNames } from "./csr.ts";
import { createSelfSignedCertificate } from "./self-signed.ts";
import { Oid } from "./oids.ts";
import { boolean, objectIdentifier, octetString, sequence } from "./der.ts";

/** What the tls-alpn-01 validation certificate carries. */
export interface TlsAlpnCertificateOptions {
  /** The identifier being validated: a DNS name, or an IP address as bytes. */
  readonly identifier: { readonly dnsName: string } | { readonly ipAddress: Uint8Array };
  /** SHA-256 of the key authorization (32 bytes). */
  readonly keyAuthorizationDigest: Uint8Array;
  readonly keyPair: CryptoKeyPair;
  /** Defaults to now. */
  readonly now?: Date;
}

/**
 * Builds the self-signed certificate a tls-alpn-01 responder presents: one SAN for the
 * identifier and the critical acmeIdentifier extension holding SHA-256 of the key authorization.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT INTEGER (2), serialNumber INTEGER, signature AlgorithmIdentifier,
 *   issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name, subjectPublicKeyInfo SubjectPublicKeyInfo,
 *   extensions [3] EXPLICIT Extensions }
 * id-pe-acmeIdentifier OBJECT IDENTIFIER ::= { id-pe 31 }
 * Authorization ::= OCTET STRING (SIZE (32))
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8737#section-3
 * @see https://www.rfc-editor.org/rfc/rfc8738#section-6 (IP identifiers)
 * @throws {RangeError} when the digest is not 32 bytes
 */
export async function createTlsAlpnCertificate(options: TlsAlpnCertificateOptions): Promise<Uint8Array> {
  const { keyAuthorizationDigest, keyPair } = options;
  if (keyAuthorizationDigest.length !== 32) throw new RangeError("Cannot build tls-alpn-01 certificate: the digest must be 32 bytes");
  const now = options.now ?? new Date();
  const san = "dnsName" in options.identifier
    ? subjectAltNames([options.identifier.dnsName], [])
    : subjectAltNames([], [options.identifier.ipAddress]);
  const acmeIdentifier = sequence(objectIdentifier(Oid.acmeIdentifier), boolean(true), octetString(octetString(keyAuthorizationDigest)));
  return createSelfSignedCertificate({
    commonName: "bun-acme tls-alpn-01",
    keyPair,
    extensions: [san, acmeIdentifier],
    notBefore: new Date(now.getTime() - 86_400_000),
    notAfter: new Date(now.getTime() + 7 * 86_400_000),
  });
}
