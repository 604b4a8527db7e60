/**
 * RDATA codecs, one per record type, picked from a table by type code.
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-3.3
 */
import { DnsFormatError } from "./errors.ts";
import { WireReader, WireWriter } from "./wire.ts";
import { formatIPv6, parseIPv4, parseIPv6 } from "../encoding/index.ts";

/** Type codes of the record types this codec understands. */
export const RecordType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  CAA: 257,
  ANY: 255,
} as const;

/** The class almost everything uses. */
export const CLASS_IN = 1;

/** The decoded RDATA of one record, by type. Types without a codec keep their raw bytes. */
export type RecordData =
  | { readonly type: "A"; readonly address: string }
  | { readonly type: "AAAA"; readonly address: string }
  | { readonly type: "NS"; readonly target: string }
  | { readonly type: "CNAME"; readonly target: string }
  | { readonly type: "TXT"; readonly texts: readonly string[] }
  | {
    readonly type: "SOA";
    readonly mname: string;
    readonly rname: string;
    readonly serial: number;
    readonly refresh: number;
    readonly retry: number;
    readonly expire: number;
    readonly minimum: number;
  }
  | { readonly type: "CAA"; readonly flags: number; readonly tag: string; readonly value: string }
  | { readonly type: "UNKNOWN"; readonly typeCode: number; readonly rdata: Uint8Array };

interface RecordCodec<T extends RecordData> {
  readonly typeCode: number;
  encode(writer: WireWriter, data: T): void;
  decode(reader: WireReader, end: number): T;
}

type CodecFor<K extends RecordData["type"]> = RecordCodec<Extract<RecordData, { type: K }>>;

const textDecoder = new TextDecoder("utf-8");
const textEncoder = new TextEncoder();

/** A: one IPv4 address, RFC 1035 §3.4.1. */
const a: CodecFor<"A"> = {
  typeCode: RecordType.A,
  encode(writer, data) {
    writer.bytes(parseIPv4(data.address));
  },
  decode(reader) {
    return { type: "A", address: Array.from(reader.take(4, "A record")).join(".") };
  },
};

/** AAAA: one IPv6 address, RFC 3596 §2.2. */
const aaaa: CodecFor<"AAAA"> = {
  typeCode: RecordType.AAAA,
  encode(writer, data) {
    writer.bytes(parseIPv6(data.address));
  },
  decode(reader) {
    return { type: "AAAA", address: formatIPv6(reader.take(16, "AAAA record")) };
  },
};

function nameCodec<K extends "NS" | "CNAME">(type: K, typeCode: number): CodecFor<K> {
  return {
    typeCode,
    encode(writer, data) {
      writer.name((data as { target: string }).target);
    },
    decode(reader) {
      return { type, target: reader.name() } as Extract<RecordData, { type: K }>;
    },
  };
}

/** TXT: one or more character-strings of at most 255 bytes, RFC 1035 §3.3.14. */
const txt: CodecFor<"TXT"> = {
  typeCode: RecordType.TXT,
  encode(writer, data) {
    for (const text of data.texts) {
      const bytes = textEncoder.encode(text);
      if (bytes.length > 255) throw new RangeError("Cannot encode TXT: a string is over 255 bytes");
      writer.u8(bytes.length);
      writer.bytes(bytes);
    }
  },
  decode(reader, end) {
    const texts: string[] = [];
    while (reader.offset < end) {
      const length = reader.u8("TXT string length");
      if (reader.offset + length > end) throw new DnsFormatError("Cannot decode TXT: string overruns RDATA");
      texts.push(textDecoder.decode(reader.take(length, "TXT string")));
    }
    return { type: "TXT", texts };
  },
};

/** SOA, RFC 1035 §3.3.13. */
const soa: CodecFor<"SOA"> = {
  typeCode: RecordType.SOA,
  encode(writer, data) {
    writer.name(data.mname);
    writer.name(data.rname);
    for (const value of [data.serial, data.refresh, data.retry, data.expire, data.minimum]) writer.u32(value);
  },
  decode(reader) {
    return {
      type: "SOA",
      mname: reader.name(),
      rname: reader.name(),
      serial: reader.u32("SOA serial"),
      refresh: reader.u32("SOA refresh"),
      retry: reader.u32("SOA retry"),
      expire: reader.u32("SOA expire"),
      minimum: reader.u32("SOA minimum"),
    };
  },
};

/** CAA: flags, tag, value, RFC 8659 §4.1. */
const caa: CodecFor<"CAA"> = {
  typeCode: RecordType.CAA,
  encode(writer, data) {
    const tag = textEncoder.encode(data.tag);
    if (tag.length === 0 || tag.length > 255) throw new RangeError("Cannot encode CAA: tag must be 1-255 bytes");
    writer.u8(data.flags);
    writer.u8(tag.length);
    writer.bytes(tag);
    writer.bytes(textEncoder.encode(data.value));
  },
  decode(reader, end) {
    const flags = reader.u8("CAA flags");
    const tagLength = reader.u8("CAA tag length");
    if (reader.offset + tagLength > end) throw new DnsFormatError("Cannot decode CAA: tag overruns RDATA");
    const tag = textDecoder.decode(reader.take(tagLength, "CAA tag"));
    return { type: "CAA", flags, tag, value: textDecoder.decode(reader.take(end - reader.offset, "CAA value")) };
  },
};

type KnownType = Exclude<RecordData["type"], "UNKNOWN">;

/** The codec table, by type name. */
const codecs: { readonly [K in KnownType]: CodecFor<K> } = {
  A: a,
  AAAA: aaaa,
  NS: nameCodec("NS", RecordType.NS),
  CNAME: nameCodec("CNAME", RecordType.CNAME),
  TXT: txt,
  SOA: soa,
  CAA: caa,
};
const codecByTypeCode = new Map<number, RecordCodec<RecordData>>(
  Object.values(codecs).map((codec) => [codec.typeCode, codec as RecordCodec<RecordData>]),
);

function codecOf(data: Exclude<RecordData, { type: "UNKNOWN" }>): RecordCodec<RecordData> {
  return codecs[data.type] as RecordCodec<RecordData>;
}

/** The type code of decoded RDATA. */
export function typeCodeOf(data: RecordData): number {
  return data.type === "UNKNOWN" ? data.typeCode : codecOf(data).typeCode;
}

/**
 * Writes RDATA (without RDLENGTH).
 *
 * @throws {RangeError} for values that do not fit the wire format
 */
export function encodeRecordData(writer: WireWriter, data: RecordData): void {
  if (data.type === "UNKNOWN") writer.bytes(data.rdata);
  else codecOf(data).encode(writer, data);
}

/**
 * Reads `length` bytes of RDATA of the given type; the codec must consume exactly that much.
 * Names inside RDATA may point anywhere earlier in the message, so the codec reads the whole
 * message, cut at the RDATA's end.
 *
 * @throws {DnsFormatError} when the RDATA is malformed or its length does not match
 */
export function decodeRecordData(reader: WireReader, typeCode: number, length: number): RecordData {
  reader.need(length, "RDATA");
  const end = reader.offset + length;
  const codec = codecByTypeCode.get(typeCode);
  if (!codec) return { type: "UNKNOWN", typeCode, rdata: reader.take(length, "RDATA").slice() };
  const rdataReader = new WireReader(reader.bytes.subarray(0, end), reader.offset);
  const data = codec.decode(rdataReader, end);
  if (rdataReader.offset !== end) {
    throw new DnsFormatError(`Cannot decode RDATA of type ${typeCode}: length ${length} does not match its content`);
  }
  reader.offset = end;
  return data;
}
