/**
 * The authoritative answering logic, as a pure function from query bytes to response bytes,
 * so that it is tested without sockets and shared by the UDP and TCP listeners.
 * @see https://www.rfc-editor.org/rfc/rfc1034#section-4.3.2
 */
import { DnsFormatError } from "./errors.ts";
import { decodePacket, EMPTY_HEADER, encodePacket, RCode, type DnsPacket, type DnsQuestion, type DnsRecord } from "./packet.ts";
import { CLASS_IN, RecordType } from "./records.ts";

/** What the server knows: one address for every name, and TXT values for some names. */
export interface AuthoritativeZone {
  /** The IPv4 address every A query gets; without one, A queries get an empty answer. */
  readonly address?: string | undefined;
  /** TXT strings for a name (lowercase, no trailing dot); empty when there are none. */
  txtValues(name: string): readonly string[];
}

/** Largest UDP response without EDNS. @see https://www.rfc-editor.org/rfc/rfc1035#section-4.2.1 */
export const CLASSIC_UDP_LIMIT = 512;
/** The UDP payload size we advertise and honour at most. @see https://www.rfc-editor.org/rfc/rfc6891#section-6.2.5 */
export const EDNS_UDP_LIMIT = 1232;

const A_TTL = 60;
// Challenge values change within a run: tell resolvers not to cache them.
const TXT_TTL = 0;

/**
 * Answers one query message for the zone. Returns the response bytes, or `undefined` when the
 * message must be dropped (it is itself a response, or too short to carry an ID to answer).
 * Malformed queries get FORMERR, opcodes other than QUERY get NOTIMP. Over UDP an answer larger
 * than the client's limit (512 bytes, or its EDNS size up to 1232) is sent empty with TC set, so
 * that the client retries over TCP.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1
 * @see https://www.rfc-editor.org/rfc/rfc6891#section-7
 */
export function respondToQuery(queryBytes: Uint8Array, zone: AuthoritativeZone, transport: "udp" | "tcp"): Uint8Array | undefined {
  let query: DnsPacket;
  try {
    query = decodePacket(queryBytes);
  } catch (error) {
    if (!(error instanceof DnsFormatError) || error.id === undefined) return undefined;
    if ((queryBytes[2]! & 0x80) !== 0) return undefined; // never answer a response
    return encodePacket(errorResponse(error.id, RCode.FORMERR, undefined));
  }
  if (query.header.qr) return undefined;
  if (query.header.opcode !== 0) return encodePacket(errorResponse(query.header.id, RCode.NOTIMP, query.questions[0], query));
  const question = query.questions[0];
  if (query.questions.length !== 1 || !question) return encodePacket(errorResponse(query.header.id, RCode.FORMERR, undefined, query));

  const response = buildAnswer(query, question, zone);
  const encoded = encodePacket(response);
  const limit = transport === "tcp" ? 0xffff : udpLimitOf(query);
  if (encoded.length <= limit) return encoded;
  return encodePacket({ ...response, header: { ...response.header, tc: true }, answers: [] });
}

function buildAnswer(query: DnsPacket, question: DnsQuestion, zone: AuthoritativeZone): DnsPacket {
  const name = question.name.toLowerCase();
  const answers: DnsRecord[] = [];
  let rcode: number = RCode.NOERROR;
  if (question.class !== CLASS_IN && question.class !== RecordType.ANY) {
    rcode = RCode.REFUSED;
  } else {
    if ((question.type === RecordType.A || question.type === RecordType.ANY) && zone.address !== undefined) {
      answers.push({ name: question.name, class: CLASS_IN, ttl: A_TTL, data: { type: "A", address: zone.address } });
    }
    if (question.type === RecordType.TXT || question.type === RecordType.ANY) {
      for (const text of zone.txtValues(name)) {
        answers.push({ name: question.name, class: CLASS_IN, ttl: TXT_TTL, data: { type: "TXT", texts: [text] } });
      }
    }
  }
  return {
    header: { ...EMPTY_HEADER, id: query.header.id, qr: true, aa: rcode === RCode.NOERROR, rd: query.header.rd, cd: query.header.cd, rcode },
    questions: [question],
    answers,
    authorities: [],
    additionals: hasEdns(query) ? [ednsRecord()] : [],
  };
}

function errorResponse(id: number, rcode: number, question: DnsQuestion | undefined, query?: DnsPacket): DnsPacket {
  return {
    header: { ...EMPTY_HEADER, id, qr: true, rd: query?.header.rd ?? false, rcode },
    questions: question ? [question] : [],
    answers: [],
    authorities: [],
    additionals: query && hasEdns(query) ? [ednsRecord()] : [],
  };
}

function hasEdns(query: DnsPacket): boolean {
  return query.additionals.some((record) => record.data.type === "UNKNOWN" && record.data.typeCode === RecordType.OPT);
}

/** The OPT pseudo-record: CLASS is the UDP payload size, TTL the extended RCODE and flags. */
function ednsRecord(): DnsRecord {
  return { name: "", class: EDNS_UDP_LIMIT, ttl: 0, data: { type: "UNKNOWN", typeCode: RecordType.OPT, rdata: new Uint8Array() } };
}

function udpLimitOf(query: DnsPacket): number {
  const opt = query.additionals.find((record) => record.data.type === "UNKNOWN" && record.data.typeCode === RecordType.OPT);
  if (!opt) return CLASSIC_UDP_LIMIT;
  return Math.min(Math.max(opt.class, CLASSIC_UDP_LIMIT), EDNS_UDP_LIMIT);
}
