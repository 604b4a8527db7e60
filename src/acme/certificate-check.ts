/**
 * What a client checks of a certificate chain before it writes or serves it: a CA (or whatever
 * answers in its name) is trusted with nothing it can get wrong.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-11.4 (the client keeps its own checks)
 */
import { readCertificate, readCsr, verifyCertificateSignature, type CertificateInfo } from "../asn1/index.ts";
import { decodePemBlocks, encodePem, formatIp, toHex, tryParseIp } from "../encoding/index.ts";
import { AcmeCertificateError } from "./errors.ts";
import type { Identifier } from "./types.ts";

/** What the certificate must match. */
export interface ChainExpectations {
  /** The DER CSR the order was finalized with: the leaf must certify its key. */
  readonly csr: Uint8Array;
  /** The identifiers ordered: the leaf's SANs must be exactly these. */
  readonly identifiers: readonly Identifier[];
  /** The time the certificates must be valid at (milliseconds since the epoch). */
  readonly now: number;
}

/** A chain that passed every check. */
export interface CheckedChain {
  /** The chain re-encoded from the DER that was checked: nothing but its certificates. */
  readonly pem: string;
  /** Leaf first. */
  readonly certificates: readonly CertificateInfo[];
}

/** A CA's clock may run ahead of ours: a certificate this young is accepted. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Checks a PEM chain from the CA: only `CERTIFICATE` blocks and whitespace; the leaf certifies
 * the CSR's key for exactly the identifiers ordered; every certificate is within its validity
 * period; and each is signed by the next one (the chain's own order, RFC 8555 §9.1).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-9.1
 * @throws {AcmeCertificateError} naming the first check that failed
 */
export async function checkIssuedChain(pem: string, url: string, expected: ChainExpectations): Promise<CheckedChain> {
  const refuse = (reason: string) => new AcmeCertificateError(url, reason);
  const certificates = parseChain(pem, refuse);
  const leaf = certificates[0]!;
  const csrKey = readCsr(expected.csr).subjectPublicKeyInfo;
  if (toHex(leaf.subjectPublicKeyInfo) !== toHex(csrKey)) throw refuse("it certifies another public key than the one in the CSR");
  const wanted = identifierNames(expected.identifiers);
  const got = [...leaf.dnsNames.map((name) => name.toLowerCase()), ...leaf.ipAddresses.map(canonicalIp)].sort();
  if (wanted.join(",") !== got.join(",")) {
    throw refuse(`its names (${got.join(", ") || "none"}) are not the names ordered (${wanted.join(", ")})`);
  }
  certificates.forEach((certificate, index) => {
    const which = index === 0 ? "it" : `chain certificate ${index + 1} ("${certificate.subjectCommonName ?? "no CN"}")`;
    if (certificate.notBefore.getTime() - CLOCK_SKEW_MS > expected.now) throw refuse(`${which} is not valid before ${certificate.notBefore.toISOString()}`);
    if (certificate.notAfter.getTime() <= expected.now) throw refuse(`${which} expired at ${certificate.notAfter.toISOString()}`);
  });
  for (let index = 0; index + 1 < certificates.length; index++) {
    await checkLink(certificates[index]!, certificates[index + 1]!, index, refuse);
  }
  return { pem: certificates.map((certificate) => encodePem("CERTIFICATE", certificate.der)).join(""), certificates };
}

type Refuse = (reason: string) => AcmeCertificateError;

function parseChain(pem: string, refuse: Refuse): (CertificateInfo & { der: Uint8Array })[] {
  let blocks;
  try {
    blocks = decodePemBlocks(pem);
  } catch (error) {
    throw refuse(`it is not PEM (${(error as Error).message})`);
  }
  if (blocks.length === 0) throw refuse("it holds no PEM certificate");
  const outside = pem.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, "");
  if (outside.trim() !== "") throw refuse("it holds text outside its PEM blocks");
  return blocks.map((block, index) => {
    if (block.label !== "CERTIFICATE") throw refuse(`block ${index + 1} is a "${block.label}", not a CERTIFICATE`);
    try {
      return { ...readCertificate(block.der), der: block.der };
    } catch (error) {
      throw refuse(`certificate ${index + 1} cannot be read (${(error as Error).message})`);
    }
  });
}

async function checkLink(certificate: CertificateInfo, issuer: CertificateInfo, index: number, refuse: Refuse): Promise<void> {
  const which = `certificate ${index + 1} ("${certificate.subjectCommonName ?? "no CN"}")`;
  const next = `certificate ${index + 2} ("${issuer.subjectCommonName ?? "no CN"}")`;
  if (toHex(certificate.issuer) !== toHex(issuer.subject)) throw refuse(`${which} names another issuer than ${next}, which follows it`);
  let verified: boolean;
  try {
    verified = await verifyCertificateSignature(certificate, issuer.subjectPublicKeyInfo);
  } catch (error) {
    throw refuse(`the signature on ${which} cannot be checked: ${(error as Error).message}`);
  }
  if (!verified) throw refuse(`${which} is not signed by ${next}, which follows it`);
}

function identifierNames(identifiers: readonly Identifier[]): string[] {
  return identifiers.map((identifier) => identifier.type === "ip" ? canonicalIp(identifier.value) : identifier.value.toLowerCase()).sort();
}

function canonicalIp(text: string): string {
  const bytes = tryParseIp(text);
  return bytes ? formatIp(bytes) : text;
}
