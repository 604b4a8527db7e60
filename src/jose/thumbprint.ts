import { encodeBase64Url, sha256, utf8Encode } from "../encoding/index.ts";
import { keyAlgorithmOfJwk } from "./algorithms.ts";

/**
 * Computes the RFC 7638 JWK thumbprint (SHA-256, base64url): the account's half of every key authorization.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7638#section-3
 * @example await jwkThumbprint({ kty: "EC", crv: "P-256", x, y })
 * @throws {TypeError} when `kty` is unsupported or a required member is missing
 */
export async function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): Promise<string> {
  const members = keyAlgorithmOfJwk(jwk).jwkMembers;
  // Built by hand: RFC 7638 fixes member order and forbids whitespace; values are plain strings.
  const parts = members.map((name) => {
    const value = jwk[name];
    if (typeof value !== "string") throw new TypeError(`"${name}" Parameter missing or invalid`);
    return `${JSON.stringify(name)}:${JSON.stringify(value)}`;
  });
  return encodeBase64Url(await sha256(utf8Encode(`{${parts.join(",")}}`)));
}
