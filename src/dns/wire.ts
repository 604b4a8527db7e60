/**
 * Bounds-checked reading and writing of DNS wire data, including domain names with
 * message compression. Used by the record codecs and the packet codec.
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4
 */
import { DnsFormatError } from "./errors.ts";

/** Longest name on the wire, length bytes included. */
export const MAX_NAME_LENGTH = 255;
/** Longest label. */
export const MAX_LABEL_LENGTH = 63;

/** Reads big-endian integers and names from a message, checking bounds before every read. */
export class WireReader {
  readonly bytes: Uint8Array;
  offset: number;

  constructor(bytes: Uint8Array, offset = 0) {
    this.bytes = bytes;
    this.offset = offset;
  }

  /** Throws unless `count` more bytes are available. */
  need(count: number, what: string): void {
    if (this.offset + count > this.bytes.length) {
      throw new DnsFormatError(`Cannot decode ${what}: message truncated at byte ${this.offset}`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const value = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return value;
  }

  u32(what: string): number {
    this.need(4, what);
    const b = this.bytes;
    const value = b[this.offset]! * 0x1000000 + ((b[this.offset + 1]! << 16) | (b[this.offset + 2]! << 8) | b[this.offset + 3]!);
    this.offset += 4;
    return value;
  }

  take(count: number, what: string): Uint8Array {
    this.need(count, what);
    const slice = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return slice;
  }

  /** Reads a possibly compressed name at the current offset and moves past it. */
  name(): string {
    const { name, next } = decodeName(this.bytes, this.offset);
    this.offset = next;
    return name;
  }
}

/**
 * Decodes a domain name starting at `offset`. A compression pointer may only point backwards,
 * before the label sequence that contains it, which rules out loops; the name may not exceed
 * 255 bytes and no label may exceed 63. Names are returned without a trailing dot ("" is the root),
 * in master-file notation: a "." or "\\" inside a label and any byte outside printable ASCII are
 * escaped (`\.`, `\\`, `\DDD`), so that every name read can be written back unchanged.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4
 * @throws {DnsFormatError} on truncation, a forward or looping pointer, or an oversized name or label
 */
export function decodeName(bytes: Uint8Array, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let position = offset;
  let next = -1;
  let wireLength = 1;
  // Each pointer must go strictly below the start of the labels read so far, so the walk always ends.
  let floor = offset;
  for (;;) {
    if (position >= bytes.length) throw new DnsFormatError(`Cannot decode name: truncated at byte ${position}`);
    const length = bytes[position]!;
    if ((length & 0xc0) === 0xc0) {
      if (position + 1 >= bytes.length) throw new DnsFormatError(`Cannot decode name: truncated pointer at byte ${position}`);
      const target = ((length & 0x3f) << 8) | bytes[position + 1]!;
      if (target >= floor) throw new DnsFormatError(`Cannot decode name: pointer at byte ${position} does not point backwards`);
      if (next < 0) next = position + 2;
      floor = target;
      position = target;
      continue;
    }
    if ((length & 0xc0) !== 0) throw new DnsFormatError(`Cannot decode name: reserved label type at byte ${position}`);
    if (length === 0) {
      if (next < 0) next = position + 1;
      return { name: labels.join("."), next };
    }
    if (length > MAX_LABEL_LENGTH) throw new DnsFormatError(`Cannot decode name: label over ${MAX_LABEL_LENGTH} bytes`);
    wireLength += length + 1;
    if (wireLength > MAX_NAME_LENGTH) throw new DnsFormatError(`Cannot decode name: longer than ${MAX_NAME_LENGTH} bytes`);
    if (position + 1 + length > bytes.length) throw new DnsFormatError(`Cannot decode name: label truncated at byte ${position}`);
    labels.push(escapeLabel(bytes.subarray(position + 1, position + 1 + length)));
    position += 1 + length;
  }
}

/** Writes a message into a growing buffer, compressing names against those already written. */
export class WireWriter {
  private buffer = new Uint8Array(512);
  length = 0;
  /** Offsets of name suffixes already written, keyed case-insensitively (RFC 1035 §2.3.3). */
  private readonly names = new Map<string, number>();

  private ensure(count: number): void {
    if (this.length + count <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + count) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
  }

  u8(value: number): void {
    this.ensure(1);
    this.buffer[this.length++] = value & 0xff;
  }

  u16(value: number): void {
    this.ensure(2);
    this.buffer[this.length++] = (value >>> 8) & 0xff;
    this.buffer[this.length++] = value & 0xff;
  }

  u32(value: number): void {
    this.u16(Math.floor(value / 0x10000) & 0xffff);
    this.u16(value & 0xffff);
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
  }

  /** Overwrites a 16-bit value at an earlier offset (used for RDLENGTH once RDATA is written). */
  patchU16(offset: number, value: number): void {
    this.buffer[offset] = (value >>> 8) & 0xff;
    this.buffer[offset + 1] = value & 0xff;
  }

  /**
   * Writes a name, replacing its longest suffix already in the message by a pointer.
   *
   * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4
   * @throws {RangeError} for an empty or oversized label, a name over 255 bytes, or a non-ASCII name
   */
  name(name: string, compress = true): void {
    const labels = splitName(name);
    const keys = labels.map((label) => escapeLabel(label).toLowerCase());
    for (let i = 0; i < labels.length; i++) {
      const suffix = keys.slice(i).join(".");
      const earlier = compress ? this.names.get(suffix) : undefined;
      if (earlier !== undefined) {
        this.u16(0xc000 | earlier);
        return;
      }
      if (compress && this.length < 0x4000) this.names.set(suffix, this.length);
      const label = labels[i]!;
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  /** The bytes written so far. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

/**
 * Writes a label's bytes in master-file notation.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-5.1
 */
function escapeLabel(label: Uint8Array): string {
  let text = "";
  for (const byte of label) {
    if (byte === 0x2e || byte === 0x5c) text += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x21 || byte > 0x7e) text += `\\${byte.toString().padStart(3, "0")}`;
    else text += String.fromCharCode(byte);
  }
  return text;
}

/**
 * Splits a name in master-file notation (escapes `\.`, `\\`, `\DDD` allowed) into label bytes
 * and checks RFC 1035 limits.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-5.1
 * @throws {RangeError} for an empty or oversized label, a name over 255 bytes, a bad escape, or a
 * character outside printable ASCII (IDNs must be given as punycode)
 */
export function splitName(name: string): Uint8Array[] {
  const text = name.endsWith(".") && !name.endsWith("\\.") ? name.slice(0, -1) : name;
  if (text === "") return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let wireLength = 1;
  const finishLabel = () => {
    if (current.length === 0) throw new RangeError(`Cannot encode name "${name}": empty label`);
    if (current.length > MAX_LABEL_LENGTH) throw new RangeError(`Cannot encode name "${name}": label over ${MAX_LABEL_LENGTH} bytes`);
    wireLength += current.length + 1;
    labels.push(Uint8Array.from(current));
    current = [];
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e) {
      finishLabel();
    } else if (code === 0x5c) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const value = Number(digits[0]);
        if (value > 255) throw new RangeError(`Cannot encode name "${name}": escape \\${digits[0]} is over 255`);
        current.push(value);
        i += 3;
      } else if (i + 1 < text.length && text.charCodeAt(i + 1) >= 0x21 && text.charCodeAt(i + 1) <= 0x7e) {
        current.push(text.charCodeAt(++i));
      } else {
        throw new RangeError(`Cannot encode name "${name}": bad escape`);
      }
    } else if (code < 0x21 || code > 0x7e) {
      throw new RangeError(`Cannot encode name "${name}": not printable ASCII (use punycode or \\DDD escapes)`);
    } else {
      current.push(code);
    }
  }
  finishLabel();
  if (wireLength > MAX_NAME_LENGTH) throw new RangeError(`Cannot encode name "${name}": over ${MAX_NAME_LENGTH} bytes`);
  return labels;
}
