/**
 * Key generation and the per-key facts JWS needs, read from the algorithm table.
 */
import { encodePem } from "../encoding/index.ts";
import { KEY_TYPE_TABLE, keyAlgorithmOf, type JwsAlgorithm, type KeyType } from "./algorithms.ts";

/**
 * Generates an extractable key pair of the given type with WebCrypto.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 * @example const { privateKey, publicKey } = await generateKeyPair("ec256");
 * @throws {RangeError} for an unknown key type
 */
export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  const row = Object.hasOwn(KEY_TYPE_TABLE, type) ? KEY_TYPE_TABLE[type] : undefined;
  if (!row) throw new RangeError(`Cannot generate key: unknown key type "${type}"`);
  return (await crypto.subtle.generateKey(row.generate, true, ["sign", "verify"])) as CryptoKeyPair;
}

/**
 * The JWS `alg` a key signs with: ES256 for P-256, ES384 for P-384, RS256 for RSA, EdDSA for Ed25519.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 * @see https://www.rfc-editor.org/rfc/rfc8037#section-3.1
 * @throws {TypeError} for a key of another algorithm
 */
export function jwsAlgorithmOf(key: CryptoKey): JwsAlgorithm {
  return keyAlgorithmOf(key).jws;
}

/**
 * Exports a private key as a PKCS#8 PEM (`BEGIN PRIVATE KEY`), the form `Bun.serve` and openssl read.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5208#section-5
 */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return encodePem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}
