/**
 * Self-signed X.509 certificates: the tls-alpn-01 validation certificate, and the placeholder a
 * server presents for names it has no certificate for.
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.1
 */
import { signerFor } from "./csr.ts";
import { bitString, contextTag, integer, objectIdentifier, sequence, setOf, time, utf8String } from "./der.ts";
import { Oid } from "./oids.ts";

/** What a self-signed certificate holds. */
export interface SelfSignedOptions {
  readonly commonName: string;
  readonly keyPair: CryptoKeyPair;
  /** DER Extension elements. */
  readonly extensions: readonly Uint8Array[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * Builds and signs a v3 certificate whose issuer is its subject.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT INTEGER (2), serialNumber INTEGER, signature AlgorithmIdentifier,
 *   issuer Name, validity SEQUENCE { notBefore Time, notAfter Time }, subject Name, subjectPublicKeyInfo SubjectPublicKeyInfo,
 *   extensions [3] EXPLICIT Extensions }
 * ```
 */
export async function createSelfSignedCertificate(options: SelfSignedOptions): Promise<Uint8Array> {
  const { keyPair } = options;
  const signer = signerFor(keyPair.privateKey);
  const name = sequence(setOf(sequence(objectIdentifier(Oid.commonName), utf8String(options.commonName))));
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f; // positive
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const tbs = sequence(
    contextTag(0, integer(2), "constructed"),
    integer(serial),
    signer.algorithmIdentifier,
    name,
    sequence(time(options.notBefore), time(options.notAfter)),
    name,
    spki,
    ...(options.extensions.length > 0 ? [contextTag(3, sequence(...options.extensions), "constructed")] : []),
  );
  return sequence(tbs, signer.algorithmIdentifier, bitString(await signer.sign(keyPair.privateKey, tbs)));
}
