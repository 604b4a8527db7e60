import { encodePem } from "../encoding/index.ts";

/**
 * The key types bun-acme can generate. `ed25519` is for account keys only: CAs do not issue
 * certificates for Ed25519 keys.
 */
export type KeyType = "ec256" | "ec384" | "rsa2048" | "rsa3072" | "rsa4096" | "ed25519";

/** Certificate key types, in the order help texts list them. */
export const KEY_TYPES: readonly KeyType[] = ["ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"];

/** Account key types: the certificate key types and Ed25519 (JWS `EdDSA`, RFC 8037). */
export const ACCOUNT_KEY_TYPES: readonly KeyType[] = [...KEY_TYPES, "ed25519"];

/** The JWS algorithms a generated key signs with. */
export type JwsAlgorithm = "ES256" | "ES384" | "RS256" | "EdDSA";

const generateParams: Record<KeyType, RsaHashedKeyGenParams | EcKeyGenParams | Algorithm> = {
  ec256: { name: "ECDSA", namedCurve: "P-256" },
  ec384: { name: "ECDSA", namedCurve: "P-384" },
  rsa2048: { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  rsa3072: { name: "RSASSA-PKCS1-v1_5", modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  rsa4096: { name: "RSASSA-PKCS1-v1_5", modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
  ed25519: { name: "Ed25519" },
};

/**
 * Generates an extractable key pair of the given type with WebCrypto.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 * @example const { privateKey, publicKey } = await generateKeyPair("ec256");
 * @throws {RangeError} for an unknown key type
 */
export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  const params = generateParams[type];
  if (!params) throw new RangeError(`Cannot generate key: unknown key type "${type}"`);
  return (await crypto.subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
}

/**
 * The JWS `alg` a key signs with: ES256 for P-256, ES384 for P-384, RS256 for RSA, EdDSA for Ed25519.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc8037#section-3.1
 * @throws {TypeError} for a key of another algorithm
 */
export function jwsAlgorithmOf(key: CryptoKey): JwsAlgorithm {
  const algorithm = key.algorithm as Partial<EcKeyAlgorithm & RsaHashedKeyAlgorithm>;
  if (algorithm.name === "ECDSA" && algorithm.namedCurve === "P-256") return "ES256";
  if (algorithm.name === "ECDSA" && algorithm.namedCurve === "P-384") return "ES384";
  if (algorithm.name === "RSASSA-PKCS1-v1_5") return "RS256";
  if (algorithm.name === "Ed25519") return "EdDSA";
  throw new TypeError(`Cannot sign: unsupported key algorithm "${algorithm.name}"`);
}

/**
 * The WebCrypto parameters for signing with a key (`ECDSA` needs the hash named per call).
 * ECDSA signatures come back as raw `r || s`, which is what JWS wants.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.4
 */
export function signParamsOf(key: CryptoKey): AlgorithmIdentifier | EcdsaParams {
  switch (jwsAlgorithmOf(key)) {
    case "ES256":
      return { name: "ECDSA", hash: "SHA-256" };
    case "ES384":
      return { name: "ECDSA", hash: "SHA-384" };
    case "RS256":
      return { name: "RSASSA-PKCS1-v1_5" };
    case "EdDSA":
      return { name: "Ed25519" };
  }
}

/**
 * Exports a private key as a PKCS#8 PEM (`BEGIN PRIVATE KEY`), the form `Bun.serve` and openssl read.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5208#section-5
 */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return encodePem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}
