import { integer, sequence } from "./der.ts";

/**
 * Converts a raw ECDSA signature (`r || s`, as WebCrypto and JWS produce it) to the DER
 * `Ecdsa-Sig-Value` that X.509 certificates and CSRs carry.
 *
 * ```asn1
 * Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc3279#section-2.2.3
 * @throws {RangeError} for a signature of odd length
 */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(`Cannot convert ECDSA signature: length ${raw.length} is not r || s`);
  }
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}
