/**
 * The DNS message codec: header, question and resource record sections.
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1
 */
import { DnsFormatError } from "./errors.ts";
import { decodeRecordData, encodeRecordData, typeCodeOf, type RecordData } from "./records.ts";
import { WireReader, WireWriter } from "./wire.ts";

/** Response codes used here. @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1 */
export const RCode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** The 12-byte header, with the flag bits unpacked. @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1 */
export interface DnsHeader {
  readonly id: number;
  /** Query (false) or response (true). */
  readonly qr: boolean;
  readonly opcode: number;
  /** Authoritative answer. */
  readonly aa: boolean;
  /** Truncated. */
  readonly tc: boolean;
  /** Recursion desired. */
  readonly rd: boolean;
  /** Recursion available. */
  readonly ra: boolean;
  /** Authentic data (RFC 4035 §3.2.3). */
  readonly ad: boolean;
  /** Checking disabled (RFC 4035 §3.2.2). */
  readonly cd: boolean;
  readonly rcode: number;
}

/** One question. @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.2 */
export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/** One resource record. @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.3 */
export interface DnsRecord {
  readonly name: string;
  readonly class: number;
  readonly ttl: number;
  readonly data: RecordData;
}

/** A whole DNS message. */
export interface DnsPacket {
  readonly header: DnsHeader;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

/** Size of the fixed header. */
export const HEADER_LENGTH = 12;

/**
 * A header with every flag off, for building messages: `{ ...EMPTY_HEADER, id, rd: true }`.
 */
export const EMPTY_HEADER: DnsHeader = {
  id: 0, qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, ad: false, cd: false, rcode: 0,
};

/**
 * Encodes a message, compressing every owner name and the names inside NS, CNAME and SOA data.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1
 * @throws {RangeError} for a name, label or value that does not fit the wire format
 */
export function encodePacket(packet: DnsPacket): Uint8Array {
  const writer = new WireWriter();
  const { header } = packet;
  writer.u16(header.id);
  writer.u16(
    (header.qr ? 0x8000 : 0) | ((header.opcode & 0xf) << 11) | (header.aa ? 0x0400 : 0) | (header.tc ? 0x0200 : 0) |
      (header.rd ? 0x0100 : 0) | (header.ra ? 0x0080 : 0) | (header.ad ? 0x0020 : 0) | (header.cd ? 0x0010 : 0) |
      (header.rcode & 0xf),
  );
  writer.u16(packet.questions.length);
  writer.u16(packet.answers.length);
  writer.u16(packet.authorities.length);
  writer.u16(packet.additionals.length);
  for (const question of packet.questions) {
    writer.name(question.name);
    writer.u16(question.type);
    writer.u16(question.class);
  }
  for (const record of [...packet.answers, ...packet.authorities, ...packet.additionals]) encodeRecord(writer, record);
  return writer.finish();
}

function encodeRecord(writer: WireWriter, record: DnsRecord): void {
  writer.name(record.name);
  writer.u16(typeCodeOf(record.data));
  writer.u16(record.class);
  writer.u32(record.ttl);
  const lengthOffset = writer.length;
  writer.u16(0);
  encodeRecordData(writer, record.data);
  const rdataLength = writer.length - lengthOffset - 2;
  if (rdataLength > 0xffff) throw new RangeError("Cannot encode record: RDATA over 65535 bytes");
  writer.patchU16(lengthOffset, rdataLength);
}

/**
 * Decodes the 12-byte header alone (the section counts are not returned).
 *
 * @throws {DnsFormatError} when fewer than 12 bytes are given
 */
export function decodeHeader(bytes: Uint8Array): DnsHeader {
  if (bytes.length < HEADER_LENGTH) throw new DnsFormatError(`Cannot decode header: ${bytes.length} bytes, need ${HEADER_LENGTH}`);
  const flags = (bytes[2]! << 8) | bytes[3]!;
  return {
    id: (bytes[0]! << 8) | bytes[1]!,
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 0xf,
  };
}

/**
 * Decodes a whole message. Every read is bounds-checked; a section count larger than the
 * bytes could hold is rejected before any record is read; trailing bytes are an error.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1
 * @throws {DnsFormatError} for any malformed message (with the message ID when the header was readable)
 */
export function decodePacket(bytes: Uint8Array): DnsPacket {
  const header = decodeHeader(bytes);
  try {
    const reader = new WireReader(bytes, 4);
    const counts = [reader.u16("QDCOUNT"), reader.u16("ANCOUNT"), reader.u16("NSCOUNT"), reader.u16("ARCOUNT")] as const;
    // A question takes at least 5 bytes, a record at least 11: reject absurd counts up front.
    const minimum = counts[0] * 5 + (counts[1] + counts[2] + counts[3]) * 11;
    if (minimum > bytes.length - HEADER_LENGTH) throw new DnsFormatError("Cannot decode message: section counts exceed its length");
    const questions: DnsQuestion[] = [];
    for (let i = 0; i < counts[0]; i++) {
      questions.push({ name: reader.name(), type: reader.u16("QTYPE"), class: reader.u16("QCLASS") });
    }
    const sections = [counts[1], counts[2], counts[3]].map((count) => {
      const records: DnsRecord[] = [];
      for (let i = 0; i < count; i++) records.push(decodeRecord(reader));
      return records;
    });
    if (reader.offset !== bytes.length) throw new DnsFormatError(`Cannot decode message: ${bytes.length - reader.offset} trailing bytes`);
    return { header, questions, answers: sections[0]!, authorities: sections[1]!, additionals: sections[2]! };
  } catch (error) {
    if (error instanceof DnsFormatError && error.id === undefined) throw new DnsFormatError(error.message, header.id);
    throw error;
  }
}

function decodeRecord(reader: WireReader): DnsRecord {
  const name = reader.name();
  const typeCode = reader.u16("TYPE");
  const recordClass = reader.u16("CLASS");
  const ttl = reader.u32("TTL");
  const length = reader.u16("RDLENGTH");
  return { name, class: recordClass, ttl, data: decodeRecordData(reader, typeCode, length) };
}
