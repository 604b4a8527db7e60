/**
 * A small certificate authority for tests, built on the project's own DER encoder and WebCrypto:
 * roots, intermediates and leaves with exactly the names, keys and validity a test asks for,
 * including the wrong ones a hostile CA would send.
 */
import { signerFor, subjectAltNames } from "../../src/asn1/index.ts";
import { bitString, boolean, contextTag, integer, objectIdentifier, octetString, sequence, setOf, time, utf8String } from "../../src/asn1/der.ts";
import { encodePem } from "../../src/encoding/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";

const COMMON_NAME = "2.5.4.3";
const BASIC_CONSTRAINTS = "2.5.29.19";
const AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";
const DAY = 86_400_000;

/** A certificate that can sign others. */
export interface TestIssuer {
  readonly name: string;
  readonly keyPair: CryptoKeyPair;
  readonly der: Uint8Array;
}

/** What one certificate holds. */
export interface TestCertificateOptions {
  readonly subject: string;
  /** The DER SubjectPublicKeyInfo to certify. */
  readonly spki: Uint8Array;
  /** Who signs: its name becomes the issuer, its private key signs. */
  readonly issuer: { readonly name: string; readonly keyPair: CryptoKeyPair };
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly Uint8Array[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca?: boolean;
  /** The Authority Key Identifier's keyIdentifier (what an ARI certificate ID is made of). */
  readonly authorityKeyId?: Uint8Array;
}

function distinguishedName(commonName: string): Uint8Array {
  return sequence(setOf(sequence(objectIdentifier(COMMON_NAME), utf8String(commonName))));
}

/** Builds and signs one DER certificate. */
export async function buildCertificate(options: TestCertificateOptions): Promise<Uint8Array> {
  const signer = signerFor(options.issuer.keyPair.privateKey);
  const serial = crypto.getRandomValues(new Uint8Array(12));
  serial[0]! &= 0x7f;
  const extensions: Uint8Array[] = [];
  if (options.dnsNames?.length || options.ipAddresses?.length) extensions.push(subjectAltNames(options.dnsNames ?? [], options.ipAddresses ?? []));
  if (options.ca) extensions.push(sequence(objectIdentifier(BASIC_CONSTRAINTS), boolean(true), octetString(sequence(boolean(true)))));
  if (options.authorityKeyId) {
    extensions.push(sequence(objectIdentifier(AUTHORITY_KEY_IDENTIFIER), octetString(sequence(contextTag(0, options.authorityKeyId, "primitive")))));
  }
  const tbs = sequence(
    contextTag(0, integer(2), "constructed"),
    integer(serial),
    signer.algorithmIdentifier,
    distinguishedName(options.issuer.name),
    sequence(time(options.notBefore), time(options.notAfter)),
    distinguishedName(options.subject),
    options.spki,
    ...(extensions.length > 0 ? [contextTag(3, sequence(...extensions), "constructed")] : []),
  );
  return sequence(tbs, signer.algorithmIdentifier, bitString(await signer.sign(options.issuer.keyPair.privateKey, tbs)));
}

/** The DER SubjectPublicKeyInfo of a key pair. */
export async function spkiOf(keyPair: CryptoKeyPair): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
}

/** A self-signed root valid from a day before `now` for 30 days. */
export async function createTestRoot(name: string, now = Date.now()): Promise<TestIssuer> {
  const keyPair = await generateKeyPair("ec256");
  const self = { name, keyPair };
  const der = await buildCertificate({
    subject: name, spki: await spkiOf(keyPair), issuer: self, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY), ca: true,
  });
  return { name, keyPair, der };
}

/** PEM for a list of DER certificates, in order. */
export function chainPem(certificates: readonly Uint8Array[]): string {
  return certificates.map((der) => encodePem("CERTIFICATE", der)).join("");
}

export { DAY };
