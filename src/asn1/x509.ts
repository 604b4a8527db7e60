/**
 * Reading X.509 certificates and PKCS#10 CSRs: the fields an ACME client needs.
 */
import { decodePemBlocks, formatIp } from "../encoding/index.ts";
import { childrenOf, decodeDer, DerError, readObjectIdentifier, readString, readTime, type DerNode } from "./decoder.ts";
import { Tag } from "./der.ts";
import { ContextTag, Oid } from "./oids.ts";

/** The parts of a certificate an ACME client uses. */
export interface CertificateInfo {
  /** The serial number's content octets (big-endian, as encoded, leading zero kept). */
  readonly serialNumber: Uint8Array;
  readonly issuerCommonName: string | undefined;
  readonly subjectCommonName: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly dnsNames: readonly string[];
  /** iPAddress SANs as text. */
  readonly ipAddresses: readonly string[];
  /** The keyIdentifier of the Authority Key Identifier extension, when present. */
  readonly authorityKeyIdentifier: Uint8Array | undefined;
  /** The DER TBSCertificate: what the issuer signed. */
  readonly tbs: Uint8Array;
  /** The signatureAlgorithm OID, e.g. `1.2.840.10045.4.3.2` (ecdsa-with-SHA256). */
  readonly signatureAlgorithm: string;
  /** The signatureValue BIT STRING's bits (the unused-bits octet removed). */
  readonly signature: Uint8Array;
  /** The DER issuer and subject Names, compared byte for byte to chain certificates. */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  /** The DER SubjectPublicKeyInfo. */
  readonly subjectPublicKeyInfo: Uint8Array;
}

/** The names a CSR asks for. */
export interface CsrInfo {
  readonly commonName: string | undefined;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  /** The DER SubjectPublicKeyInfo of the key the CSR asks to certify. */
  readonly subjectPublicKeyInfo: Uint8Array;
}

/**
 * Reads a DER certificate.
 *
 * ```asn1
 * Certificate ::= SEQUENCE { tbsCertificate TBSCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
 * TBSCertificate ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, serialNumber CertificateSerialNumber,
 *   signature AlgorithmIdentifier, issuer Name, validity Validity, subject Name, subjectPublicKeyInfo SubjectPublicKeyInfo,
 *   issuerUniqueID [1] IMPLICIT OPTIONAL, subjectUniqueID [2] IMPLICIT OPTIONAL, extensions [3] EXPLICIT Extensions OPTIONAL }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.1
 * @throws {DerError} when the bytes are not a certificate
 */
export function readCertificate(der: Uint8Array): CertificateInfo {
  const [tbs, algorithm, signature] = childrenOf(decodeDer(der), 3, "certificate") as [DerNode, DerNode, DerNode];
  const fields = [...childrenOf(tbs, 6, "TBSCertificate")];
  if (fields[0]!.tag === ContextTag.explicit0) fields.shift(); // explicit version
  const [serial, , issuer, validity, subject, spki] = fields as [DerNode, DerNode, DerNode, DerNode, DerNode, DerNode];
  if (serial.tag !== Tag.INTEGER) throw new DerError("Cannot read certificate: no serial number");
  const [notBefore, notAfter] = childrenOf(validity, 2, "validity");
  const extensions = readExtensions(fields.find((field) => field.tag === ContextTag.explicit3)?.children?.[0]);
  const names = readSubjectAltNames(extensions.get(Oid.subjectAltName));
  const aki = extensions.get(Oid.authorityKeyIdentifier);
  return {
    serialNumber: serial.content,
    issuerCommonName: readCommonName(issuer),
    subjectCommonName: readCommonName(subject),
    notBefore: readTime(notBefore!),
    notAfter: readTime(notAfter!),
    dnsNames: names.dnsNames,
    ipAddresses: names.ipAddresses,
    authorityKeyIdentifier: aki ? readKeyIdentifier(aki) : undefined,
    tbs: tbs.raw,
    signatureAlgorithm: readObjectIdentifier(childrenOf(algorithm, 1, "signatureAlgorithm")[0]!),
    signature: readBitString(signature),
    issuer: issuer.raw,
    subject: subject.raw,
    subjectPublicKeyInfo: spki.raw,
  };
}

/** The bits of a BIT STRING whose unused-bits octet is 0 (signatures, keys). */
function readBitString(node: DerNode): Uint8Array {
  if (node.tag !== Tag.BIT_STRING || node.content[0] !== 0) throw new DerError("Cannot read BIT STRING: not a whole number of octets");
  return node.content.subarray(1);
}

/**
 * Reads the names of a DER PKCS#10 CSR: its subject CN and the SANs of its extensionRequest.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2986#section-4
 * @throws {DerError} when the bytes are not a CSR
 */
export function readCsr(der: Uint8Array): CsrInfo {
  const [info] = childrenOf(decodeDer(der), 3, "CSR");
  const [, subject, spki, attributes] = childrenOf(info!, 4, "CertificationRequestInfo");
  let names: { dnsNames: string[]; ipAddresses: string[] } = { dnsNames: [], ipAddresses: [] };
  for (const attribute of attributes!.children ?? []) {
    const [type, values] = childrenOf(attribute, 2, "attribute");
    if (readObjectIdentifier(type!) !== Oid.extensionRequest) continue;
    names = readSubjectAltNames(readExtensions(values!.children?.[0]).get(Oid.subjectAltName));
  }
  return { commonName: readCommonName(subject!), ...names, subjectPublicKeyInfo: spki!.raw };
}

function readCommonName(name: DerNode): string | undefined {
  for (const rdn of name.children ?? []) {
    for (const attribute of rdn.children ?? []) {
      const [type, value] = childrenOf(attribute, 2, "name attribute");
      if (readObjectIdentifier(type!) === Oid.commonName) return readString(value!);
    }
  }
  return undefined;
}

/** Extension OID → the DER inside its extnValue OCTET STRING. */
function readExtensions(extensions: DerNode | undefined): Map<string, Uint8Array> {
  const map = new Map<string, Uint8Array>();
  for (const extension of extensions?.children ?? []) {
    const parts = childrenOf(extension, 2, "extension");
    map.set(readObjectIdentifier(parts[0]!), parts.at(-1)!.content);
  }
  return map;
}

/** GeneralNames: dNSName [2] IA5String and iPAddress [7] OCTET STRING; other forms are skipped. */
function readSubjectAltNames(der: Uint8Array | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const name of der ? childrenOf(decodeDer(der), 0, "subjectAltName") : []) {
    if (name.tag === ContextTag.dnsName) dnsNames.push(readString(name));
    if (name.tag === ContextTag.ipAddress) ipAddresses.push(formatIp(name.content));
  }
  return { dnsNames, ipAddresses };
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, ... } */
function readKeyIdentifier(der: Uint8Array): Uint8Array | undefined {
  return childrenOf(decodeDer(der), 0, "authorityKeyIdentifier").find((part) => part.tag === ContextTag.keyIdentifier)?.content;
}

/** A CSR read from PEM or DER, with the names it asks for. */
export interface ParsedCsr {
  readonly der: Uint8Array;
  /** The subject CN (when no SAN repeats it), then the dNSName SANs, then the iPAddress SANs as text. */
  readonly names: readonly string[];
}

/**
 * Reads a PKCS#10 CSR given as PEM (`BEGIN CERTIFICATE REQUEST`) or DER, and the names it asks
 * for, which become the order's identifiers.
 *
 * @see https://www.rfc-editor.org/rfc/rfc2986#section-4
 * @example const { der, names } = parseCsr(await Bun.file("request.csr").bytes());
 * @throws {SyntaxError} when the input is not a CSR, or names nothing
 */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  let der = typeof input === "string" ? new TextEncoder().encode(input) : input;
  const text = typeof input === "string" ? input : new TextDecoder().decode(input);
  if (text.includes("-----BEGIN")) {
    const block = (() => {
      try {
        return decodePemBlocks(text).find((candidate) => /CERTIFICATE REQUEST/.test(candidate.label));
      } catch {
        return undefined;
      }
    })();
    if (!block) throw new SyntaxError('Cannot read CSR: no PEM block "CERTIFICATE REQUEST"');
    der = block.der;
  }
  let info: CsrInfo;
  try {
    info = readCsr(der);
  } catch {
    throw new SyntaxError("Cannot read CSR: not a PKCS#10 certificate request (PEM or DER)");
  }
  const names = [...info.dnsNames, ...info.ipAddresses];
  if (info.commonName && !names.includes(info.commonName)) names.unshift(info.commonName);
  if (names.length === 0) throw new SyntaxError("Cannot read CSR: it names nothing (no CN, no subjectAltName)");
  return { der, names };
}
