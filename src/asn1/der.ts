/**
 * A DER encoder (ITU-T X.690): each function returns the complete TLV of one value.
 * Only what CSRs and certificates need is here; every function is pure.
 * @see https://www.itu.int/rec/T-REC-X.690
 */
import { concatBytes, utf8Encode } from "../encoding/index.ts";

/** Universal tags used by the builders below (X.680 §8.4). */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OBJECT_IDENTIFIER: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/**
 * Encodes a DER length: short form below 128, else long form with the minimum number of bytes.
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §8.1.3 and §10.1
 * @throws {RangeError} for a negative or non-integer length
 */
export function encodeLength(length: number): Uint8Array {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`Cannot encode DER length: ${length}`);
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** Encodes one tag-length-value triple with a single-byte tag. */
export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(tag), encodeLength(content.length), content);
}

/** `SEQUENCE { ... }` of already-encoded elements, in the given order. */
export function sequence(...elements: readonly Uint8Array[]): Uint8Array {
  return tlv(Tag.SEQUENCE, concatBytes(...elements));
}

/**
 * `SET OF { ... }` of already-encoded elements, sorted by their encodings as DER requires.
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §11.6
 */
export function setOf(...elements: readonly Uint8Array[]): Uint8Array {
  const sorted = [...elements].sort(compareBytes);
  return tlv(Tag.SET, concatBytes(...sorted));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * A non-negative `INTEGER`, from a number, a bigint or big-endian unsigned bytes
 * (leading zeros are stripped; a zero byte is prepended when the high bit is set, so the value stays positive).
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §8.3
 * @throws {RangeError} for a negative value
 */
export function integer(value: number | bigint | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    bytes = value;
  } else {
    let rest = BigInt(value);
    if (rest < 0n) throw new RangeError("Cannot encode DER INTEGER: negative values are not supported");
    const out: number[] = [];
    do {
      out.unshift(Number(rest & 0xffn));
      rest >>= 8n;
    } while (rest > 0n);
    bytes = Uint8Array.from(out);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const content = trimmed.length === 0 ? Uint8Array.of(0) : (trimmed[0]! & 0x80) !== 0 ? concatBytes(Uint8Array.of(0), trimmed) : trimmed;
  return tlv(Tag.INTEGER, content);
}

/**
 * An `OBJECT IDENTIFIER` from dotted text, e.g. `"2.5.29.17"` (subjectAltName).
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §8.19
 * @throws {SyntaxError} for text that is not a valid OID
 */
export function objectIdentifier(oid: string): Uint8Array {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(oid)) throw new SyntaxError(`Cannot encode OID: "${oid}" is not dotted decimal`);
  const arcs = oid.split(".").map((arc) => BigInt(arc));
  const [first, second, ...rest] = arcs as [bigint, bigint, ...bigint[]];
  if (first < 2n && second > 39n) throw new SyntaxError(`Cannot encode OID: "${oid}" has a second arc over 39`);
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const base128: number[] = [Number(arc & 0x7fn)];
    for (let value = arc >> 7n; value > 0n; value >>= 7n) base128.unshift(Number(value & 0x7fn) | 0x80);
    out.push(...base128);
  }
  return tlv(Tag.OBJECT_IDENTIFIER, Uint8Array.from(out));
}

/**
 * A `UTCTime` (years 1950-2049) or, from 2050 on, a `GeneralizedTime`, as RFC 5280 §4.1.2.5
 * requires for certificate validity; seconds precision, always UTC ("Z").
 */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-11-28T22:00:00.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ""); // 20261128220000
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(Tag.UTC_TIME, utf8Encode(`${digits.slice(2)}Z`));
  return tlv(Tag.GENERALIZED_TIME, utf8Encode(`${digits}Z`));
}

/** A `UTF8String`. */
export function utf8String(text: string): Uint8Array {
  return tlv(Tag.UTF8_STRING, utf8Encode(text));
}

/**
 * An `IA5String` (ASCII), as in a dNSName.
 *
 * @throws {RangeError} for a character outside ASCII
 */
export function ia5String(text: string): Uint8Array {
  return tlv(Tag.IA5_STRING, asciiBytes(text));
}

/**
 * The bytes of an ASCII string, the content of an IA5String.
 *
 * @throws {RangeError} for a character outside ASCII
 */
export function asciiBytes(text: string): Uint8Array {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError(`Cannot encode IA5String: "${text}" is not ASCII`);
  return utf8Encode(text);
}

/** An `OCTET STRING`. */
export function octetString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.OCTET_STRING, bytes);
}

/**
 * A `BIT STRING` of whole bytes (no unused bits), as signatures and public keys are.
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §8.6
 */
export function bitString(bytes: Uint8Array): Uint8Array {
  return tlv(Tag.BIT_STRING, concatBytes(Uint8Array.of(0), bytes));
}

/** `NULL`. */
export function nullValue(): Uint8Array {
  return Uint8Array.of(Tag.NULL, 0);
}

/** A `BOOLEAN` (DER: `TRUE` is 0xff). */
export function boolean(value: boolean): Uint8Array {
  return Uint8Array.of(Tag.BOOLEAN, 1, value ? 0xff : 0);
}

/**
 * A context-specific tag `[n]` around content bytes. Constructed form (0xa0 | n) holds complete
 * encodings: an EXPLICIT tag, or an IMPLICIT tag on a SEQUENCE/SET. Primitive form (0x80 | n) is an
 * IMPLICIT tag on a primitive value, e.g. `dNSName [2] IA5String`: pass the string's bytes.
 *
 * @see https://www.itu.int/rec/T-REC-X.690 §8.14
 * @throws {RangeError} for a tag number over 30
 */
export function contextTag(tagNumber: number, content: Uint8Array, form: "constructed" | "primitive"): Uint8Array {
  if (!Number.isInteger(tagNumber) || tagNumber < 0 || tagNumber > 30) {
    throw new RangeError(`Cannot encode context tag [${tagNumber}]: only 0-30 are supported`);
  }
  return tlv((form === "constructed" ? 0xa0 : 0x80) | tagNumber, content);
}
