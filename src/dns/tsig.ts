/**
 * TSIG: messages signed with a shared key (HMAC), as dynamic updates to BIND, Knot or PowerDNS
 * are. Keys are read from BIND's `key` statement (what `tsig-keygen` writes) or from
 * `algorithm:name:secret`, as `nsupdate -y` takes them.
 * @see https://www.rfc-editor.org/rfc/rfc8945
 */
import { decodeBase64 } from "../encoding/index.ts";
import { DnsFormatError } from "./errors.ts";
import { decodeName, WireReader, WireWriter } from "./wire.ts";

/** A TSIG key. */
export interface TsigKey {
  /** The key's name, e.g. `acme-key` (as both sides configured it), lowercase, no trailing dot. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Uint8Array;
}

/** The algorithms supported: RFC 8945 §6 requires hmac-sha256; hmac-sha512 is common. */
export type TsigAlgorithm = "hmac-sha256" | "hmac-sha384" | "hmac-sha512";

const HASHES: Readonly<Record<TsigAlgorithm, string>> = { "hmac-sha256": "SHA-256", "hmac-sha384": "SHA-384", "hmac-sha512": "SHA-512" };

/** The TSIG RR type and the class and TTL it is sent with. @see https://www.rfc-editor.org/rfc/rfc8945#section-4.2 */
export const TSIG_TYPE = 250;
const CLASS_ANY = 255;
/** Seconds of clock difference allowed (the value BIND uses). */
const FUDGE = 300;

/** TSIG error codes (in the TSIG RR's Error field). @see https://www.rfc-editor.org/rfc/rfc8945#section-5.2 */
export const TsigError: Readonly<Record<number, string>> = { 16: "BADSIG", 17: "BADKEY", 18: "BADTIME", 22: "BADTRUNC" };

/**
 * Reads a key: BIND's `key "name" { algorithm hmac-sha256; secret "…"; };` (the first one in the
 * text), or `algorithm:name:secret` / `name:secret` (hmac-sha256).
 *
 * @example
 * const tsig = parseTsigKey(await Bun.file("/etc/bun-acme/acme-key.conf").text()); // as tsig-keygen wrote it
 * const solver = new Rfc2136Solver({ server: "192.0.2.53", port: 53, tsig });
 * @see https://www.rfc-editor.org/rfc/rfc8945
 * @throws {SyntaxError} when neither form is there, or the algorithm is not supported
 */
export function parseTsigKey(text: string): TsigKey {
  const bind = /key\s+"?([^"\s{]+)"?\s*\{([^}]*)\}/.exec(text);
  if (bind) {
    const algorithm = /algorithm\s+"?([\w-]+)"?\s*;/.exec(bind[2]!)?.[1];
    const secret = /secret\s+"([^"]+)"\s*;/.exec(bind[2]!)?.[1];
    if (!algorithm || !secret) throw new SyntaxError("Cannot read TSIG key: the key statement needs an algorithm and a secret");
    return makeKey(bind[1]!, algorithm, secret);
  }
  const parts = text.trim().split(":");
  if (parts.length === 3) return makeKey(parts[1]!, parts[0]!, parts[2]!);
  if (parts.length === 2) return makeKey(parts[0]!, "hmac-sha256", parts[1]!);
  throw new SyntaxError('Cannot read TSIG key: give a BIND key file (tsig-keygen) or algorithm:name:secret');
}

function makeKey(name: string, algorithm: string, secret: string): TsigKey {
  const lower = algorithm.toLowerCase().replace(/\.$/, "");
  if (!(lower in HASHES)) throw new SyntaxError(`Cannot use TSIG algorithm "${algorithm}": use ${Object.keys(HASHES).join(", ")}`);
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(secret);
  } catch {
    throw new SyntaxError("Cannot read TSIG key: the secret is not base64");
  }
  return { name: name.toLowerCase().replace(/\.$/, ""), algorithm: lower as TsigAlgorithm, secret: bytes };
}

/** A signed message and its MAC (needed to check the answer's). */
export interface SignedMessage {
  readonly bytes: Uint8Array;
  readonly mac: Uint8Array;
}

/**
 * Signs an encoded message (no TSIG in it yet): appends the TSIG RR and counts it in ARCOUNT.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8945#section-5.1
 */
export async function signMessage(message: Uint8Array, key: TsigKey, now: number = Date.now()): Promise<SignedMessage> {
  const timeSigned = Math.floor(now / 1000);
  const mac = await hmac(key, [message, variables(key, timeSigned, 0, new Uint8Array(0))]);
  const writer = new WireWriter();
  writer.bytes(message);
  writeRecord(writer, key, timeSigned, mac, (message[0]! << 8) | message[1]!, 0);
  const bytes = writer.finish();
  const arcount = ((bytes[10]! << 8) | bytes[11]!) + 1;
  bytes[10] = arcount >> 8;
  bytes[11] = arcount & 0xff;
  return { bytes, mac };
}

/** What the answer's TSIG said. */
export interface TsigVerdict {
  /** The answer carried a TSIG whose MAC verifies with the key. */
  readonly verified: boolean;
  /** The TSIG's own error, by name (`BADSIG`, `BADKEY`, `BADTIME`), or `undefined`. */
  readonly error: string | undefined;
  readonly reason: string;
}

/**
 * Checks an answer's TSIG against the key and the request's MAC, as RFC 8945 §5.3 has a client do: the answer must
 * end with a TSIG record of this key and algorithm, whose MAC (over the request's MAC, the answer and the TSIG
 * variables as received) verifies, signed within its fudge of `now`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8945#section-5.3
 */
export async function verifyAnswer(answer: Uint8Array, key: TsigKey, requestMac: Uint8Array, now: number = Date.now()): Promise<TsigVerdict> {
  const last = lastRecord(answer);
  if (!last || last.type !== TSIG_TYPE) return { verified: false, error: undefined, reason: "the answer is not signed" };
  try {
    return await verifyRecord(answer, last, key, requestMac, now);
  } catch (error) {
    if (error instanceof DnsFormatError || error instanceof RangeError) return { verified: false, error: undefined, reason: "its TSIG record is malformed" };
    throw error;
  }
}

const MALFORMED: TsigVerdict = { verified: false, error: undefined, reason: "its TSIG record is malformed" };

async function verifyRecord(answer: Uint8Array, last: NonNullable<ReturnType<typeof lastRecord>>, key: TsigKey, requestMac: Uint8Array, now: number): Promise<TsigVerdict> {
  // RFC 8945 §4.2: the TSIG record is the last thing in the message, of class ANY and TTL 0.
  if (last.rdataEnd !== answer.length || last.class !== CLASS_ANY || last.ttl !== 0) return MALFORMED;
  const rdata = new WireReader(answer, last.rdataStart);
  const algorithm = decodeName(answer, rdata.offset);
  rdata.offset = algorithm.next;
  const timeHigh = rdata.u16("TSIG");
  const timeSigned = timeHigh * 0x1_0000_0000 + rdata.u32("TSIG");
  const fudge = rdata.u16("TSIG");
  const mac = rdata.take(rdata.u16("TSIG"), "MAC").slice();
  const originalId = rdata.u16("TSIG");
  const errorCode = rdata.u16("TSIG");
  const other = rdata.take(rdata.u16("TSIG"), "other data").slice();
  if (rdata.offset !== last.rdataEnd) return MALFORMED;
  const error = errorCode === 0 ? undefined : TsigError[errorCode] ?? `error ${errorCode}`;
  // Names compare case-insensitively; the MAC covers them in canonical (lowercase) form (RFC 8945 §4.3.3).
  const keyName = decodeName(answer, last.start).name.toLowerCase();
  if (keyName !== key.name) return { verified: false, error, reason: `it is signed with another key ("${keyName}", not "${key.name}")` };
  if (algorithm.name.toLowerCase() !== key.algorithm) return { verified: false, error, reason: `it is signed with another algorithm (${algorithm.name}, not ${key.algorithm})` };
  if (mac.length === 0) return { verified: false, error, reason: `the server answered ${error ?? "unsigned"} with no MAC` };
  // The answer as it was before the TSIG was added: its RR removed, ARCOUNT back, the original ID.
  const unsigned = answer.slice(0, last.start);
  unsigned[0] = originalId >> 8;
  unsigned[1] = originalId & 0xff;
  const arcount = ((unsigned[10]! << 8) | unsigned[11]!) - 1;
  unsigned[10] = arcount >> 8;
  unsigned[11] = arcount & 0xff;
  const requestPart = new WireWriter();
  requestPart.u16(requestMac.length);
  requestPart.bytes(requestMac);
  const expected = await hmac(key, [requestPart.finish(), unsigned, variables(key, timeSigned, errorCode, other, fudge)]);
  const macMatches = expected.length === mac.length && expected.every((byte, index) => byte === mac[index]);
  if (!macMatches) return { verified: false, error, reason: "its MAC does not verify with the key" };
  // RFC 8945 §5.2.3, which §5.3 applies to answers: outside the fudge, a replayed or delayed answer.
  const skew = Math.floor(now / 1000) - timeSigned;
  if (Math.abs(skew) > fudge) return { verified: false, error, reason: `it was signed ${Math.abs(skew)} s ${skew > 0 ? "ago" : "ahead"}, outside its fudge of ${fudge} s (are both clocks right?)` };
  return { verified: true, error, reason: "verified" };
}

/** The TSIG variables that follow the message in the MAC. @see https://www.rfc-editor.org/rfc/rfc8945#section-4.3.3 */
function variables(key: TsigKey, timeSigned: number, error: number, other: Uint8Array, fudge: number = FUDGE): Uint8Array {
  const writer = new WireWriter();
  writer.name(key.name, false);
  writer.u16(CLASS_ANY);
  writer.u32(0);
  writer.name(key.algorithm, false);
  writer.u16(Math.floor(timeSigned / 0x1_0000_0000));
  writer.u32(timeSigned % 0x1_0000_0000);
  writer.u16(fudge);
  writer.u16(error);
  writer.u16(other.length);
  writer.bytes(other);
  return writer.finish();
}

function writeRecord(writer: WireWriter, key: TsigKey, timeSigned: number, mac: Uint8Array, id: number, error: number): void {
  writer.name(key.name, false);
  writer.u16(TSIG_TYPE);
  writer.u16(CLASS_ANY);
  writer.u32(0);
  const lengthAt = writer.length;
  writer.u16(0);
  writer.name(key.algorithm, false);
  writer.u16(Math.floor(timeSigned / 0x1_0000_0000));
  writer.u32(timeSigned % 0x1_0000_0000);
  writer.u16(FUDGE);
  writer.u16(mac.length);
  writer.bytes(mac);
  writer.u16(id);
  writer.u16(error);
  writer.u16(0);
  writer.patchU16(lengthAt, writer.length - lengthAt - 2);
}

async function hmac(key: TsigKey, parts: readonly Uint8Array[]): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey("raw", key.secret as Uint8Array<ArrayBuffer>, { name: "HMAC", hash: HASHES[key.algorithm] }, false, ["sign"]);
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  const data = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, data));
}

/** Where the message's last resource record is, found by walking every section. */
function lastRecord(bytes: Uint8Array): { start: number; type: number; class: number; ttl: number; rdataStart: number; rdataEnd: number } | undefined {
  try {
    const reader = new WireReader(bytes, 4);
    const counts = [reader.u16("TSIG"), reader.u16("TSIG"), reader.u16("TSIG"), reader.u16("TSIG")];
    for (let i = 0; i < counts[0]!; i++) {
      reader.offset = decodeName(bytes, reader.offset).next + 4;
    }
    let last: ReturnType<typeof lastRecord>;
    const records = counts[1]! + counts[2]! + counts[3]!;
    for (let i = 0; i < records; i++) {
      const start = reader.offset;
      reader.offset = decodeName(bytes, reader.offset).next;
      const type = reader.u16("TSIG");
      const recordClass = reader.u16("TSIG");
      const ttl = reader.u32("TSIG");
      const length = reader.u16("TSIG");
      last = { start, type, class: recordClass, ttl, rdataStart: reader.offset, rdataEnd: reader.offset + length };
      reader.offset += length;
    }
    return last;
  } catch (error) {
    if (error instanceof DnsFormatError || error instanceof RangeError) return undefined;
    throw error;
  }
}
