import { jwsAlgorithmOf } from "./keys.ts";

/** A public JWK holding only the members RFC 7638 requires: the form ACME servers and thumbprints want. */
export type PublicJwk =
  | { readonly kty: "EC"; readonly crv: "P-256" | "P-384"; readonly x: string; readonly y: string }
  | { readonly kty: "RSA"; readonly n: string; readonly e: string }
  | { readonly kty: "OKP"; readonly crv: "Ed25519"; readonly x: string };

/**
 * Exports the public half of a key as a minimal JWK. WebCrypto adds `alg`, `ext` and `key_ops`,
 * which are dropped: the JWK goes into JWS headers and thumbprints, where only the required members belong.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-4
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3.2
 * @throws {TypeError} for a key of an unsupported algorithm
 */
export async function exportPublicJwk(key: CryptoKey): Promise<PublicJwk> {
  jwsAlgorithmOf(key);
  const jwk = await crypto.subtle.exportKey("jwk", key);
  if (jwk.kty === "EC") {
    return { kty: "EC", crv: jwk.crv as "P-256" | "P-384", x: jwk.x!, y: jwk.y! };
  }
  if (jwk.kty === "OKP") return { kty: "OKP", crv: "Ed25519", x: jwk.x! };
  return { kty: "RSA", n: jwk.n!, e: jwk.e! };
}
