import { keyAlgorithmOf } from "./algorithms.ts";

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
  const { jwkMembers } = keyAlgorithmOf(key);
  const jwk = (await crypto.subtle.exportKey("jwk", key)) as Record<string, unknown>;
  return Object.fromEntries(jwkMembers.map((member) => [member, jwk[member]])) as PublicJwk;
}
