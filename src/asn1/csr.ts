import { asciiBytes, bitString, contextTag, nullValue, objectIdentifier, octetString, sequence, setOf, utf8String } from "./der.ts";
import { ecdsaSignatureToDer } from "./ecdsa-signature.ts";
import { Oid } from "./oids.ts";
import { tryParseIp, utf8Encode } from "../encoding/index.ts";
import { keyAlgorithmOf } from "../jose/index.ts";

/** What goes into a CSR: the names (SANs) and the key pair whose public half it certifies. */
export interface CsrOptions {
  /**
   * ACME identifiers (RFC 8555 §9.7.7, RFC 8738): `dns` values become dNSName SANs, `ip` values
   * iPAddress SANs. Given with or instead of `dnsNames`/`ipAddresses`.
   */
  readonly identifiers?: readonly { readonly type: "dns" | "ip"; readonly value: string }[];
  /** DNS names, wildcards included; every one becomes a dNSName SAN, the first also the subject CN when it fits in 64 characters. */
  readonly dnsNames?: readonly string[];
  /** IP addresses as 4 or 16 bytes; each becomes an iPAddress SAN (RFC 8738 §3). */
  readonly ipAddresses?: readonly Uint8Array[];
  readonly keyPair: CryptoKeyPair;
}

/**
 * Builds a DER PKCS#10 certificate signing request for the given names, signed by the key pair.
 *
 * ```asn1
 * CertificationRequest ::= SEQUENCE {
 *   certificationRequestInfo CertificationRequestInfo,
 *   signatureAlgorithm       AlgorithmIdentifier,
 *   signature                BIT STRING }
 * CertificationRequestInfo ::= SEQUENCE {
 *   version       INTEGER { v1(0) },
 *   subject       Name,
 *   subjectPKInfo SubjectPublicKeyInfo,
 *   attributes    [0] IMPLICIT SET OF Attribute }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc2986#section-4
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4 (the CSR in finalize)
 * @example const csr = await createCsr({ identifiers: [{ type: "dns", value: "example.net" }], keyPair });
 * @throws {RangeError} when no name is given
 * @throws {TypeError} for an `ip` identifier that is not an address
 * @throws {TypeError} for a key of an unsupported algorithm
 */
export async function createCsr(options: CsrOptions): Promise<Uint8Array> {
  const { keyPair } = options;
  const identifiers = options.identifiers ?? [];
  const dnsNames = [...identifiers.filter((identifier) => identifier.type === "dns").map((identifier) => identifier.value), ...(options.dnsNames ?? [])];
  const ipAddresses = [...identifiers.filter((identifier) => identifier.type === "ip").map((identifier) => ipBytes(identifier.value)), ...(options.ipAddresses ?? [])];
  if (dnsNames.length === 0 && ipAddresses.length === 0) throw new RangeError("Cannot create CSR: no names given");
  for (const address of ipAddresses) {
    if (address.length !== 4 && address.length !== 16) throw new RangeError(`Cannot create CSR: an IP address of ${address.length} bytes`);
  }
  const signer = signerFor(keyPair.privateKey);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
  const info = sequence(
    Uint8Array.of(0x02, 0x01, 0x00), // version v1(0)
    dnsNames.length > 0 ? subjectName(dnsNames[0]!) : sequence(),
    spki, // exported by WebCrypto as a complete SubjectPublicKeyInfo
    contextTag(0, extensionRequestAttribute(dnsNames, ipAddresses), "constructed"),
  );
  return sequence(info, signer.algorithmIdentifier, bitString(await signer.sign(keyPair.privateKey, info)));
}

function ipBytes(text: string): Uint8Array {
  const bytes = tryParseIp(text);
  if (!bytes) throw new TypeError(`Cannot create CSR: "${text}" is not an IP address`);
  return bytes;
}

/**
 * `Name` with one CN, or the empty Name when the first name is longer than the 64 characters
 * X.520 allows for a CN (the SANs carry the names either way).
 *
 * ```asn1
 * Name ::= SEQUENCE OF RelativeDistinguishedName
 * RelativeDistinguishedName ::= SET OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 * ```
 */
function subjectName(commonName: string): Uint8Array {
  if (utf8Encode(commonName).length > 64) return sequence();
  return sequence(setOf(sequence(objectIdentifier(Oid.commonName), utf8String(commonName))));
}

/**
 * The `extensionRequest` attribute carrying one subjectAltName extension. The `[0]` around the
 * attributes is IMPLICIT SET OF, so its content is the attributes themselves.
 *
 * ```asn1
 * Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY }
 * Extensions ::= SEQUENCE OF Extension
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * GeneralNames ::= SEQUENCE OF GeneralName
 * GeneralName ::= CHOICE { ..., dNSName [2] IA5String, ..., iPAddress [7] OCTET STRING, ... }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc2985#section-5.4.2
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6
 */
function extensionRequestAttribute(dnsNames: readonly string[], ipAddresses: readonly Uint8Array[]): Uint8Array {
  const extensions = sequence(subjectAltNames(dnsNames, ipAddresses));
  return sequence(objectIdentifier(Oid.extensionRequest), setOf(extensions));
}

/**
 * The subjectAltName extension for DNS names and IP addresses (not critical).
 *
 * ```asn1
 * Extension ::= SEQUENCE { extnID OBJECT IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * GeneralNames ::= SEQUENCE OF GeneralName  -- dNSName [2] IA5String, iPAddress [7] OCTET STRING
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6
 */
export function subjectAltNames(dnsNames: readonly string[], ipAddresses: readonly Uint8Array[]): Uint8Array {
  const generalNames = sequence(
    ...dnsNames.map((name) => contextTag(2, asciiBytes(name), "primitive")),
    ...ipAddresses.map((address) => contextTag(7, address, "primitive")),
  );
  return sequence(objectIdentifier(Oid.subjectAltName), octetString(generalNames));
}

/** How a key signs a CSR or certificate: the DER AlgorithmIdentifier and a signing function. */
export interface Signer {
  readonly algorithmIdentifier: Uint8Array;
  /** Signs DER bytes; ECDSA signatures come back DER-encoded (Ecdsa-Sig-Value), as X.509 wants. */
  sign(privateKey: CryptoKey, data: Uint8Array): Promise<Uint8Array>;
}

/**
 * The signature algorithm for a key, from the key algorithm table (`src/jose`).
 *
 * ```asn1
 * AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }
 * ```
 * ECDSA and Ed25519 identifiers have no parameters (RFC 5758 §3.2, RFC 8410 §3); RSA ones have NULL (RFC 4055 §5).
 *
 * @throws {TypeError} for a key of an unsupported algorithm
 */
export function signerFor(key: CryptoKey): Signer {
  const algorithm = keyAlgorithmOf(key);
  const oid = objectIdentifier(algorithm.signatureOid);
  return {
    algorithmIdentifier: algorithm.signatureParamsNull ? sequence(oid, nullValue()) : sequence(oid),
    async sign(privateKey, data) {
      const raw = new Uint8Array(await crypto.subtle.sign(algorithm.signParams, privateKey, data as Uint8Array<ArrayBuffer>));
      return algorithm.derSignature ? ecdsaSignatureToDer(raw) : raw;
    },
  };
}
