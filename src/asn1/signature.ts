/**
 * Verifying the signature of a certificate with its issuer's public key, through WebCrypto:
 * what a client checks of every link of the chain a CA sends before it trusts it.
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-6.1.3
 */
import { childrenOf, decodeDer, readObjectIdentifier } from "./decoder.ts";
import { ecdsaSignatureFromDer } from "./ecdsa-signature.ts";
import type { CertificateInfo } from "./x509.ts";

/** How a signature algorithm verifies: the WebCrypto name and hash. */
interface SignatureAlgorithm {
  readonly name: "RSASSA-PKCS1-v1_5" | "ECDSA" | "Ed25519";
  readonly hash: "SHA-256" | "SHA-384" | "SHA-512" | undefined;
  readonly label: string;
}

/**
 * The certificate signature algorithms CAs use, by OID.
 * @see https://www.rfc-editor.org/rfc/rfc4055#section-5 (RSA)
 * @see https://www.rfc-editor.org/rfc/rfc5758#section-3.2 (ECDSA)
 * @see https://www.rfc-editor.org/rfc/rfc8410#section-3 (Ed25519)
 */
const SIGNATURE_ALGORITHMS: Readonly<Record<string, SignatureAlgorithm>> = {
  "1.2.840.113549.1.1.11": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", label: "sha256WithRSAEncryption" },
  "1.2.840.113549.1.1.12": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-384", label: "sha384WithRSAEncryption" },
  "1.2.840.113549.1.1.13": { name: "RSASSA-PKCS1-v1_5", hash: "SHA-512", label: "sha512WithRSAEncryption" },
  "1.2.840.10045.4.3.2": { name: "ECDSA", hash: "SHA-256", label: "ecdsa-with-SHA256" },
  "1.2.840.10045.4.3.3": { name: "ECDSA", hash: "SHA-384", label: "ecdsa-with-SHA384" },
  "1.2.840.10045.4.3.4": { name: "ECDSA", hash: "SHA-512", label: "ecdsa-with-SHA512" },
  "1.3.101.112": { name: "Ed25519", hash: undefined, label: "Ed25519" },
};

/** Public key algorithms (SubjectPublicKeyInfo OIDs and EC curves) and the signature family they verify. */
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const ED25519 = "1.3.101.112";
/** Named curves: WebCrypto name and the octets of each of r and s. @see https://www.rfc-editor.org/rfc/rfc5480#section-2.1.1.1 */
const CURVES: Readonly<Record<string, { readonly namedCurve: string; readonly size: number }>> = {
  "1.2.840.10045.3.1.7": { namedCurve: "P-256", size: 32 },
  "1.3.132.0.34": { namedCurve: "P-384", size: 48 },
  "1.3.132.0.35": { namedCurve: "P-521", size: 66 },
};

/**
 * Whether `certificate` was signed by the key in `issuerSpki` (a DER SubjectPublicKeyInfo).
 * Algorithms: RSA PKCS#1 v1.5 with SHA-256/384/512, ECDSA on P-256/P-384/P-521 with
 * SHA-256/384/512, Ed25519.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.1.1.3
 * @throws {TypeError} for a signature or key algorithm outside that list, or a key that does not match the signature algorithm
 * @throws {DerError} for a malformed key or ECDSA signature
 */
export async function verifyCertificateSignature(certificate: CertificateInfo, issuerSpki: Uint8Array): Promise<boolean> {
  const algorithm = SIGNATURE_ALGORITHMS[certificate.signatureAlgorithm];
  if (!algorithm) throw new TypeError(`unsupported signature algorithm ${certificate.signatureAlgorithm}`);
  const [keyAlgorithm] = childrenOf(decodeDer(issuerSpki), 2, "SubjectPublicKeyInfo");
  const [keyOid, parameters] = childrenOf(keyAlgorithm!, 1, "public key algorithm");
  const oid = readObjectIdentifier(keyOid!);
  const spki = issuerSpki as Uint8Array<ArrayBuffer>;
  const tbs = certificate.tbs as Uint8Array<ArrayBuffer>;
  if (algorithm.name === "RSASSA-PKCS1-v1_5" && oid === RSA_ENCRYPTION) {
    const key = await crypto.subtle.importKey("spki", spki, { name: algorithm.name, hash: algorithm.hash! }, false, ["verify"]);
    return crypto.subtle.verify(algorithm.name, key, certificate.signature as Uint8Array<ArrayBuffer>, tbs);
  }
  if (algorithm.name === "ECDSA" && oid === EC_PUBLIC_KEY) {
    const curve = parameters ? CURVES[readObjectIdentifier(parameters)] : undefined;
    if (!curve) throw new TypeError("unsupported elliptic curve in the issuer's key (P-256, P-384 and P-521 are)");
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: curve.namedCurve }, false, ["verify"]);
    const raw = ecdsaSignatureFromDer(certificate.signature, curve.size) as Uint8Array<ArrayBuffer>;
    return crypto.subtle.verify({ name: "ECDSA", hash: algorithm.hash! }, key, raw, tbs);
  }
  if (algorithm.name === "Ed25519" && oid === ED25519) {
    const key = await crypto.subtle.importKey("spki", spki, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify("Ed25519", key, certificate.signature as Uint8Array<ArrayBuffer>, tbs);
  }
  throw new TypeError(`the issuer's key (${oid}) cannot make ${algorithm.label} signatures`);
}
