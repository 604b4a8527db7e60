/**
 * One table of the key algorithms bun-acme signs with. Every place that needs to know something
 * about a key type (generation, JWS `alg`, JWK members, thumbprint members, X.509
 * AlgorithmIdentifier, PKCS#8 import) reads it here: adding a key type is one row.
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 */

/** The key types bun-acme generates. `ed25519` is for account keys only: CAs do not issue certificates for it. */
export type KeyType = "ec256" | "ec384" | "rsa2048" | "rsa3072" | "rsa4096" | "ed25519";

/** The JWS algorithms bun-acme signs with. @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1 */
export type JwsAlgorithm = "ES256" | "ES384" | "RS256" | "EdDSA";

/**
 * The WebCrypto parameter dictionaries the table uses, declared here rather than taken from the DOM lib, so that
 * the sources type-check in a project whose `lib` is `["ESNext"]` (what `bun init` writes). Each is structurally
 * the WebCrypto dictionary of the same role, so it is accepted wherever `crypto.subtle` wants one.
 * @see https://www.w3.org/TR/WebCryptoAPI/#dfn-Algorithm
 */
export interface WebCryptoAlgorithm { readonly name: string }
/** WebCrypto's `EcKeyImportParams` and `EcKeyGenParams`. @see https://www.w3.org/TR/WebCryptoAPI/#dfn-EcKeyImportParams */
export interface WebCryptoEcParams extends WebCryptoAlgorithm { readonly namedCurve: string }
/** WebCrypto's `RsaHashedImportParams` and `EcdsaParams`: an algorithm with a hash. @see https://www.w3.org/TR/WebCryptoAPI/#dfn-RsaHashedImportParams */
export interface WebCryptoHashedParams extends WebCryptoAlgorithm { readonly hash: string }
/** WebCrypto's `RsaHashedKeyGenParams`. @see https://www.w3.org/TR/WebCryptoAPI/#dfn-RsaHashedKeyGenParams */
export interface WebCryptoRsaKeyGenParams extends WebCryptoHashedParams { readonly modulusLength: number; readonly publicExponent: Uint8Array<ArrayBuffer> }

/** Everything about one signature algorithm. */
export interface KeyAlgorithm {
  readonly jws: JwsAlgorithm;
  /** WebCrypto parameters to import a key of this algorithm (PKCS#8, SPKI, JWK). */
  readonly importParams: WebCryptoHashedParams | WebCryptoEcParams | WebCryptoAlgorithm;
  /** WebCrypto parameters for `crypto.subtle.sign`. */
  readonly signParams: WebCryptoAlgorithm | WebCryptoHashedParams;
  /** The JWK `kty` and, for curves, `crv`. */
  readonly kty: "EC" | "RSA" | "OKP";
  readonly crv: string | undefined;
  /** The members RFC 7638 hashes, in lexicographic order; also the members of a minimal public JWK. */
  readonly jwkMembers: readonly string[];
  /** X.509: the signature algorithm OID (RFC 5758, RFC 4055, RFC 8410) and whether its parameters are NULL. */
  readonly signatureOid: string;
  readonly signatureParamsNull: boolean;
  /** X.509 SubjectPublicKeyInfo / PKCS#8 algorithm OID and, for EC, the named curve OID. */
  readonly keyOid: string;
  readonly curveOid: string | undefined;
  /** ECDSA signatures are raw `r || s` from WebCrypto and DER `Ecdsa-Sig-Value` in X.509. */
  readonly derSignature: boolean;
}

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const ED25519 = "1.3.101.112";

/** The algorithms, by JWS name. */
export const KEY_ALGORITHMS: Readonly<Record<JwsAlgorithm, KeyAlgorithm>> = {
  ES256: {
    jws: "ES256", importParams: { name: "ECDSA", namedCurve: "P-256" }, signParams: { name: "ECDSA", hash: "SHA-256" },
    kty: "EC", crv: "P-256", jwkMembers: ["crv", "kty", "x", "y"],
    signatureOid: "1.2.840.10045.4.3.2", signatureParamsNull: false, keyOid: EC_PUBLIC_KEY, curveOid: "1.2.840.10045.3.1.7", derSignature: true,
  },
  ES384: {
    jws: "ES384", importParams: { name: "ECDSA", namedCurve: "P-384" }, signParams: { name: "ECDSA", hash: "SHA-384" },
    kty: "EC", crv: "P-384", jwkMembers: ["crv", "kty", "x", "y"],
    signatureOid: "1.2.840.10045.4.3.3", signatureParamsNull: false, keyOid: EC_PUBLIC_KEY, curveOid: "1.3.132.0.34", derSignature: true,
  },
  RS256: {
    jws: "RS256", importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, signParams: { name: "RSASSA-PKCS1-v1_5" },
    kty: "RSA", crv: undefined, jwkMembers: ["e", "kty", "n"],
    signatureOid: "1.2.840.113549.1.1.11", signatureParamsNull: true, keyOid: RSA_ENCRYPTION, curveOid: undefined, derSignature: false,
  },
  EdDSA: {
    jws: "EdDSA", importParams: { name: "Ed25519" }, signParams: { name: "Ed25519" },
    kty: "OKP", crv: "Ed25519", jwkMembers: ["crv", "kty", "x"],
    signatureOid: ED25519, signatureParamsNull: false, keyOid: ED25519, curveOid: undefined, derSignature: false,
  },
};

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);

/** The key types: which algorithm each uses, how it is generated, and whether CAs certify it. */
export const KEY_TYPE_TABLE: Readonly<Record<KeyType, { readonly algorithm: JwsAlgorithm; readonly generate: WebCryptoRsaKeyGenParams | WebCryptoEcParams | WebCryptoAlgorithm; readonly certificate: boolean }>> = {
  ec256: { algorithm: "ES256", generate: { name: "ECDSA", namedCurve: "P-256" }, certificate: true },
  ec384: { algorithm: "ES384", generate: { name: "ECDSA", namedCurve: "P-384" }, certificate: true },
  rsa2048: { algorithm: "RS256", generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: RSA_EXPONENT, hash: "SHA-256" }, certificate: true },
  rsa3072: { algorithm: "RS256", generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 3072, publicExponent: RSA_EXPONENT, hash: "SHA-256" }, certificate: true },
  rsa4096: { algorithm: "RS256", generate: { name: "RSASSA-PKCS1-v1_5", modulusLength: 4096, publicExponent: RSA_EXPONENT, hash: "SHA-256" }, certificate: true },
  ed25519: { algorithm: "EdDSA", generate: { name: "Ed25519" }, certificate: false },
};

/** Certificate key types, in the order help texts list them. */
export const KEY_TYPES: readonly KeyType[] = (Object.keys(KEY_TYPE_TABLE) as KeyType[]).filter((type) => KEY_TYPE_TABLE[type].certificate);

/** Account key types: every key type (Ed25519 signs JWS as `EdDSA`, RFC 8037). */
export const ACCOUNT_KEY_TYPES: readonly KeyType[] = Object.keys(KEY_TYPE_TABLE) as KeyType[];

/**
 * The table row for a WebCrypto key.
 *
 * @throws {TypeError} for a key of an algorithm not in the table
 */
export function keyAlgorithmOf(key: CryptoKey): KeyAlgorithm {
  const algorithm = key.algorithm as Partial<WebCryptoEcParams>;
  const row = Object.values(KEY_ALGORITHMS).find((candidate) =>
    candidate.importParams.name === algorithm.name && (candidate.kty !== "EC" || candidate.crv === algorithm.namedCurve)
  );
  if (!row) throw new TypeError(`Cannot use key: unsupported key algorithm "${algorithm.name}${algorithm.namedCurve ? ` ${algorithm.namedCurve}` : ""}"`);
  return row;
}

/**
 * The table row for a PKCS#8 / SubjectPublicKeyInfo algorithm OID (and curve OID for EC keys).
 *
 * @throws {TypeError} for an algorithm not in the table
 */
export function keyAlgorithmOfOid(keyOid: string, curveOid: string | undefined): KeyAlgorithm {
  const row = Object.values(KEY_ALGORITHMS).find((candidate) => candidate.keyOid === keyOid && (candidate.curveOid === undefined || candidate.curveOid === curveOid));
  if (!row) throw new TypeError(`Cannot use key: unsupported key algorithm ${keyOid}${curveOid ? ` (curve ${curveOid})` : ""}; use RSA, P-256, P-384 or Ed25519`);
  return row;
}

/**
 * The table row for a JWK's `kty` and `crv`.
 *
 * @throws {TypeError} when `kty`/`crv` name no supported algorithm
 */
export function keyAlgorithmOfJwk(jwk: Readonly<Record<string, unknown>>): KeyAlgorithm {
  const row = Object.values(KEY_ALGORITHMS).find((candidate) => candidate.kty === jwk.kty && (candidate.crv === undefined || candidate.crv === jwk.crv));
  if (!row) throw new TypeError(`"kty" (Key Type) Parameter missing or unsupported: ${String(jwk.kty)}${jwk.crv ? ` ${String(jwk.crv)}` : ""}`);
  return row;
}
