import { childrenOf, decodeDer, DerError } from "./decoder.ts";
import { integer, sequence, Tag } from "./der.ts";

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

/**
 * Converts a DER `Ecdsa-Sig-Value` (from a certificate) to the raw `r || s` WebCrypto verifies,
 * each integer left-padded to `size` octets (32 for P-256, 48 for P-384, 66 for P-521).
 *
 * @see https://www.rfc-editor.org/rfc/rfc3279#section-2.2.3
 * @throws {DerError} when the bytes are not two INTEGERs that fit `size` octets
 */
export function ecdsaSignatureFromDer(der: Uint8Array, size: number): Uint8Array {
  const parts = childrenOf(decodeDer(der), 2, "ECDSA signature");
  const raw = new Uint8Array(size * 2);
  parts.slice(0, 2).forEach((part, index) => {
    if (part.tag !== Tag.INTEGER) throw new DerError("Cannot read ECDSA signature: r and s must be INTEGERs");
    let value = part.content;
    while (value.length > 1 && value[0] === 0) value = value.subarray(1);
    if (value.length > size) throw new DerError("Cannot read ECDSA signature: an integer is longer than the curve");
    raw.set(value, size * (index + 1) - value.length);
  });
  return raw;
}
