/**
 * DNS: the wire codec (RFC 1035, with compression), an authoritative answerer, and the UDP/TCP server.
 * @module
 */
export { CLASSIC_UDP_LIMIT, EDNS_UDP_LIMIT, respondToQuery, type AuthoritativeZone } from "./authority.ts";
export { DnsFormatError } from "./errors.ts";
export {
  decodeHeader,
  decodePacket,
  EMPTY_HEADER,
  encodePacket,
  HEADER_LENGTH,
  RCode,
  type DnsHeader,
  type DnsPacket,
  type DnsQuestion,
  type DnsRecord,
} from "./packet.ts";
export { CLASS_IN, RecordType, type RecordData } from "./records.ts";
export { startDnsServer, type DnsServer, type DnsServerOptions } from "./server.ts";
export { decodeName, MAX_LABEL_LENGTH, MAX_NAME_LENGTH, splitName } from "./wire.ts";
export { DnsClientError, exchange, type Exchanged, type ExchangeOptions } from "./client.ts";
export { parseTsigKey, signMessage, verifyAnswer, type TsigAlgorithm, type TsigKey, type TsigVerdict } from "./tsig.ts";
export { DnsUpdateError, findZone, followCname, nameServers, updateTxt, waitForTxt, type UpdateTarget } from "./update.ts";
