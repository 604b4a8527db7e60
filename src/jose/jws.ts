import { encodeBase64Url, utf8Encode } from "../encoding/index.ts";
import type { PublicJwk } from "./jwk.ts";
import { keyAlgorithmOf } from "./algorithms.ts";

/** The flattened JWS JSON serialization ACME requests carry. */
export interface FlattenedJws {
  readonly protected: string;
  readonly payload: string;
  readonly signature: string;
}

/**
 * The protected header of an ACME request: exactly one of `jwk` (account creation, revocation by
 * certificate key) or `kid` (everything else), plus `nonce` and the exact request `url`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.2
 */
export type AcmeProtectedHeader =
  & { readonly url: string; readonly nonce?: string }
  & ({ readonly jwk: PublicJwk; readonly kid?: never } | { readonly kid: string; readonly jwk?: never });

/**
 * Signs a payload as a flattened JWS. The `alg` header comes from the key. A payload of
 * `undefined` gives the empty payload of a POST-as-GET; anything else is JSON-encoded.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-7.2.2
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.3
 * @example await signJws(accountKey, { url, nonce, kid }, { termsOfServiceAgreed: true })
 * @throws {TypeError} for a key of an unsupported algorithm
 */
export async function signJws(
  privateKey: CryptoKey,
  header: AcmeProtectedHeader,
  payload: unknown,
): Promise<FlattenedJws> {
  const algorithm = keyAlgorithmOf(privateKey);
  const protectedB64 = encodeBase64Url(utf8Encode(JSON.stringify({ alg: algorithm.jws, ...header })));
  const payloadB64 = payload === undefined ? "" : encodeBase64Url(utf8Encode(JSON.stringify(payload)));
  const signingInput = utf8Encode(`${protectedB64}.${payloadB64}`);
  const signature = await crypto.subtle.sign(algorithm.signParams, privateKey, signingInput as Uint8Array<ArrayBuffer>);
  return { protected: protectedB64, payload: payloadB64, signature: encodeBase64Url(new Uint8Array(signature)) };
}

/** The protected header of an External Account Binding JWS. @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.4 */
export interface EabProtectedHeader {
  readonly kid: string;
  readonly url: string;
}

/**
 * Signs a payload as a flattened JWS with HMAC-SHA256 (`HS256`), as External Account Binding
 * requires: the CA's MAC key signs the account's public JWK.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.4
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.2
 * @throws {RangeError} for an empty MAC key
 */
export async function signHmacJws(macKey: Uint8Array, header: EabProtectedHeader, payload: unknown): Promise<FlattenedJws> {
  if (macKey.length === 0) throw new RangeError("Cannot sign with HS256: the MAC key is empty");
  const key = await crypto.subtle.importKey("raw", macKey as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const protectedB64 = encodeBase64Url(utf8Encode(JSON.stringify({ alg: "HS256", ...header })));
  const payloadB64 = encodeBase64Url(utf8Encode(JSON.stringify(payload)));
  const signature = await crypto.subtle.sign("HMAC", key, utf8Encode(`${protectedB64}.${payloadB64}`) as Uint8Array<ArrayBuffer>);
  return { protected: protectedB64, payload: payloadB64, signature: encodeBase64Url(new Uint8Array(signature)) };
}
