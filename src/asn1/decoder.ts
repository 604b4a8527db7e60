/**
 * A DER reader: parses one TLV at a time into a tree, with bounds checked before every read.
 * Enough to read certificates and CSRs (names, serials, extensions, validity, issuers).
 * @see https://www.itu.int/rec/T-REC-X.690
 */
import { utf8Decode } from "../encoding/index.ts";
import { Tag } from "./der.ts";

/** One decoded element. `children` is set for constructed elements (SEQUENCE, SET, [n] constructed). */
export interface DerNode {
  /** The identifier octet (tag class, constructed bit, tag number). */
  readonly tag: number;
  /** The content octets. */
  readonly content: Uint8Array;
  /** The whole encoding, tag and length included (what a signature covers). */
  readonly raw: Uint8Array;
  readonly children?: readonly DerNode[];
}

/** The DER input is malformed. */
export class DerError extends SyntaxError {
  readonly code = "ERR_DER";
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Deepest nesting accepted; certificates need about 10. */
const MAX_DEPTH = 32;

/**
 * Decodes exactly one DER element filling all of `bytes`, recursing into constructed ones.
 *
 * @throws {DerError} for truncated input, indefinite or non-minimal lengths, multi-byte tags,
 * trailing bytes, or nesting deeper than 32
 */
export function decodeDer(bytes: Uint8Array): DerNode {
  const { node, next } = decodeAt(bytes, 0, bytes.length, 0);
  if (next !== bytes.length) throw new DerError(`Cannot decode DER: ${bytes.length - next} trailing bytes`);
  return node;
}

/** The element at `offset`, which must end by `limit` (its parent's end): no view is made of the parent for each child. */
function decodeAt(bytes: Uint8Array, offset: number, limit: number, depth: number): { node: DerNode; next: number } {
  if (depth > MAX_DEPTH) throw new DerError("Cannot decode DER: nested too deeply");
  if (offset + 2 > limit) throw new DerError(`Cannot decode DER: truncated at byte ${offset}`);
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("Cannot decode DER: multi-byte tags are not supported");
  let length = bytes[offset + 1]!;
  let headerLength = 2;
  if (length === 0x80) throw new DerError("Cannot decode DER: indefinite length");
  if (length > 0x80) {
    const count = length & 0x7f;
    if (count > 4 || offset + 2 + count > limit) throw new DerError(`Cannot decode DER: bad length at byte ${offset}`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!;
    if (length < 0x80 || bytes[offset + 2] === 0) throw new DerError(`Cannot decode DER: non-minimal length at byte ${offset}`);
    headerLength += count;
  }
  const start = offset + headerLength;
  const end = start + length;
  if (end > limit) throw new DerError(`Cannot decode DER: element at byte ${offset} runs past the end`);
  const content = bytes.subarray(start, end);
  const raw = bytes.subarray(offset, end);
  if ((tag & 0x20) === 0) return { node: { tag, content, raw }, next: end };
  const children: DerNode[] = [];
  for (let position = start; position < end;) {
    const child = decodeAt(bytes, position, end, depth + 1);
    children.push(child.node);
    position = child.next;
  }
  return { node: { tag, content, raw, children }, next: end };
}

/**
 * The children of a constructed node, checked to be at least `count`.
 *
 * @throws {DerError} when the node is primitive or has fewer children
 */
export function childrenOf(node: DerNode, count = 0, what = "element"): readonly DerNode[] {
  if (!node.children || node.children.length < count) throw new DerError(`Cannot read ${what}: unexpected structure`);
  return node.children;
}

/** The most octets one arc may take: 160 bits, room for a UUID arc (128 bits, 19 octets) under 2.25. */
const MAX_ARC_OCTETS = 23;

/** Below this an arc is read as a number: one more octet (times 128, plus 127) stays under 2^53. */
const NUMBER_ARC_LIMIT = 2 ** 46;

/**
 * Reads an OBJECT IDENTIFIER node as dotted text.
 *
 * @see https://www.itu.int/rec/T-REC-X.690 section 8.19 (each arc in base 128, as few octets as possible)
 * @throws {DerError} when the node is not a well-formed OID: a truncated arc, an arc padded with a
 *   leading 0x80 octet, or an arc longer than {@link MAX_ARC_OCTETS} octets (whose BigInt reading
 *   would take time growing with the square of its length)
 */
export function readObjectIdentifier(node: DerNode): string {
  if (node.tag !== Tag.OBJECT_IDENTIFIER || node.content.length === 0) throw new DerError("Cannot read OID: not an OBJECT IDENTIFIER");
  // Numbers while an arc fits in 53 bits (every OID an ACME client meets), BigInt past that (UUID arcs under 2.25):
  // BigInt steps on every byte made a certificate's OIDs 0.6 ms of a warm start.
  const arcs: (number | bigint)[] = [];
  let value: number | bigint = 0;
  let octets = 0;
  for (const byte of node.content) {
    if (octets === 0 && byte === 0x80) throw new DerError("Cannot read OID: an arc starts with a padding octet (0x80)");
    if (++octets > MAX_ARC_OCTETS) throw new DerError(`Cannot read OID: an arc longer than ${MAX_ARC_OCTETS} octets`);
    if (typeof value === "number" && value >= NUMBER_ARC_LIMIT) value = BigInt(value);
    value = typeof value === "number" ? value * 128 + (byte & 0x7f) : (value << 7n) | BigInt(byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
      octets = 0;
    }
  }
  if ((node.content.at(-1)! & 0x80) !== 0) throw new DerError("Cannot read OID: truncated arc");
  const first = arcs.shift()!;
  // The first arc holds two (X.690 8.19.4): 40 * first + second, with first 0, 1 or 2 (2 leaving second unbounded).
  const second = typeof first === "bigint" ? first - 80n : first < 40 ? first : first < 80 ? first - 40 : first - 80;
  const head = [first < 40 ? 0 : first < 80 ? 1 : 2, second];
  return [...head, ...arcs].join(".");
}

/** Reads a string node (UTF8String, PrintableString, IA5String, T61String, BMPString is not needed). */
export function readString(node: DerNode): string {
  return utf8Decode(node.content);
}

/**
 * Reads a UTCTime or GeneralizedTime node.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.5
 * @throws {DerError} for another tag or a malformed time
 */
export function readTime(node: DerNode): Date {
  const text = readString(node);
  const match = node.tag === Tag.UTC_TIME
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : node.tag === Tag.GENERALIZED_TIME
    ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : null;
  if (!match) throw new DerError(`Cannot read time "${text}"`);
  let year = Number(match[1]);
  if (node.tag === Tag.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
}
