/**
 * Whether a stored lineage can be served as it is: its key and chain checked together, so that a
 * damaged lineage (another site's fullchain copied over it, junk in the chain, metadata that
 * describes another certificate) is caught before it is served or saved, and hurts nobody else.
 */
import { importPrivateKeyPem, readCertificate, verifyCertificateSignature, type CertificateInfo } from "../asn1/index.ts";
import { decodePemBlocks, formatIp, toHex, tryParseIp } from "../encoding/index.ts";
import type { StoredLineage } from "../store/index.ts";

/** A CA's clock may run ahead of ours: a certificate this young is accepted. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** What is wrong with a lineage, in words that name the part ("the chain's certificate 2 ..."). */
export type LineageDamage = string;

/**
 * Checks a lineage's key and chain together: only certificates in the chain, leaf first, each
 * signed by the one after it; the leaf certifies the private key's public key, for exactly the
 * lineage's names, with the serial and validity its metadata records, and is not valid only in
 * the future. An expired certificate is not damage (it is served until renewed).
 *
 * @returns undefined when the lineage is whole, else what is wrong with it
 */
export async function lineageDamage(lineage: StoredLineage, now: number = Date.now()): Promise<LineageDamage | undefined> {
  let certificates: CertificateInfo[];
  try {
    const blocks = decodePemBlocks(lineage.chainPem);
    if (blocks.length === 0) return "the chain holds no certificate";
    const stray = blocks.findIndex((block) => block.label !== "CERTIFICATE");
    if (stray >= 0) return `the chain's block ${stray + 1} is a "${blocks[stray]!.label}", not a CERTIFICATE`;
    if (lineage.chainPem.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, "").trim() !== "") return "the chain holds text outside its PEM blocks";
    certificates = blocks.map((block) => readCertificate(block.der));
  } catch (error) {
    return `the chain cannot be read (${(error as Error).message})`;
  }
  const leaf = certificates[0]!;
  const keyProblem = await keyMismatch(lineage.keyPem, leaf);
  if (keyProblem) return keyProblem;
  const wanted = lineage.config.identifiers.map((identifier) => canonical(identifier.value)).sort().join(", ");
  const got = [...leaf.dnsNames, ...leaf.ipAddresses].map(canonical).sort().join(", ");
  if (wanted !== got) return `the certificate is for ${got || "no names"}, not for the lineage's ${wanted}`;
  const serial = toHex(leaf.serialNumber).replace(/^(00)+(?=.)/, "").toUpperCase();
  if (serial !== lineage.meta.serial.replace(/^(00)+(?=.)/, "").toUpperCase()) return `the metadata names serial ${lineage.meta.serial}, the certificate is ${serial}`;
  if (Date.parse(lineage.meta.notAfter) !== leaf.notAfter.getTime()) return `the metadata says it expires at ${lineage.meta.notAfter}, the certificate at ${leaf.notAfter.toISOString()}`;
  if (leaf.notBefore.getTime() - CLOCK_SKEW_MS > now) return `the certificate is not valid before ${leaf.notBefore.toISOString()}`;
  for (let index = 0; index + 1 < certificates.length; index++) {
    const problem = await linkProblem(certificates[index]!, certificates[index + 1]!, index);
    if (problem) return problem;
  }
  return undefined;
}

async function keyMismatch(keyPem: string, leaf: CertificateInfo): Promise<string | undefined> {
  let publicKey: CryptoKey;
  try {
    publicKey = (await importPrivateKeyPem(keyPem)).publicKey;
  } catch (error) {
    return `the private key cannot be read (${(error as Error).message})`;
  }
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
  return toHex(spki) === toHex(leaf.subjectPublicKeyInfo) ? undefined : "the certificate certifies another key than the lineage's private key (another lineage's certificate?)";
}

async function linkProblem(certificate: CertificateInfo, issuer: CertificateInfo, index: number): Promise<string | undefined> {
  const which = `the chain's certificate ${index + 1}`;
  if (toHex(certificate.issuer) !== toHex(issuer.subject)) return `${which} is not issued by certificate ${index + 2}, which follows it (chain out of order)`;
  const verified = await verifyCertificateSignature(certificate, issuer.subjectPublicKeyInfo).catch(() => false);
  return verified ? undefined : `${which} is not signed by certificate ${index + 2}, which follows it`;
}

function canonical(name: string): string {
  const bytes = tryParseIp(name);
  return bytes ? formatIp(bytes) : name.toLowerCase();
}
