/**
 * A name server's side of TSIG, written apart from src/dns (node:crypto HMAC, bytes laid by hand) so that the
 * tests check src/dns/tsig.ts against a second implementation. `tests/dns/tsig.test.ts` checks that it reproduces a
 * real BIND's signed answer byte for byte; with it, tests forge, tamper with and age answers as an attacker would.
 * @see https://www.rfc-editor.org/rfc/rfc8945#section-4.3
 */
import { createHmac } from "node:crypto";

/** What to sign an answer with; the owner and algorithm names default to the key's (a wrong one is a test case). */
export interface AnswerSigning {
  readonly keyName: string;
  readonly algorithm: "hmac-sha256" | "hmac-sha384" | "hmac-sha512";
  readonly secret: Uint8Array;
  /** The MAC of the request this answers (RFC 8945 §4.3.1: it opens the answer's MAC input). */
  readonly requestMac: Uint8Array;
  /** Seconds since the epoch. */
  readonly timeSigned: number;
  readonly fudge?: number;
  readonly error?: number;
  readonly other?: Uint8Array;
  /** The TSIG record's owner name, when it should differ from the key name used for the MAC. */
  readonly ownerName?: string;
}

function name(text: string): number[] {
  return [...text.split(".").filter(Boolean).flatMap((label) => [label.length, ...Buffer.from(label, "ascii")]), 0];
}
const u16 = (value: number) => [value >> 8, value & 0xff];
const u48 = (value: number) => [...u16(Math.floor(value / 0x1_0000_0000)), ...u16((value >>> 16) & 0xffff), ...u16(value & 0xffff)];

/** Appends a TSIG record to an encoded answer (no TSIG in it yet) and counts it in ARCOUNT. */
export function signAnswer(unsigned: Uint8Array, signing: AnswerSigning): Uint8Array {
  const fudge = signing.fudge ?? 300;
  const error = signing.error ?? 0;
  const other = [...(signing.other ?? new Uint8Array(0))];
  const hash = signing.algorithm.replace("hmac-", "");
  const variables = [
    ...name(signing.keyName.toLowerCase()), ...u16(255), 0, 0, 0, 0, ...name(signing.algorithm),
    ...u48(signing.timeSigned), ...u16(fudge), ...u16(error), ...u16(other.length), ...other,
  ];
  const mac = createHmac(hash, signing.secret)
    .update(Uint8Array.from(u16(signing.requestMac.length))).update(signing.requestMac)
    .update(unsigned).update(Uint8Array.from(variables)).digest();
  const rdata = [...name(signing.algorithm), ...u48(signing.timeSigned), ...u16(fudge), ...u16(mac.length), ...mac, unsigned[0]!, unsigned[1]!, ...u16(error), ...u16(other.length), ...other];
  const record = [...name(signing.ownerName ?? signing.keyName), ...u16(250), ...u16(255), 0, 0, 0, 0, ...u16(rdata.length), ...rdata];
  const signed = Uint8Array.from([...unsigned, ...record]);
  const arcount = ((signed[10]! << 8) | signed[11]!) + 1;
  signed[10] = arcount >> 8;
  signed[11] = arcount & 0xff;
  return signed;
}

/** Where the TSIG record of a signed message (owner name `keyName`) starts. */
export function tsigStart(signed: Uint8Array, keyName: string): number {
  const owner = Buffer.from([...name(keyName), ...u16(250), ...u16(255)]);
  const start = Buffer.from(signed).lastIndexOf(owner);
  if (start < 12) throw new Error(`no TSIG record of ${keyName} in the message`);
  return start;
}

/** The message without its TSIG record, ARCOUNT counted down: what was signed. */
export function stripTsig(signed: Uint8Array, keyName: string): Uint8Array {
  const unsigned = signed.slice(0, tsigStart(signed, keyName));
  const arcount = ((unsigned[10]! << 8) | unsigned[11]!) - 1;
  unsigned[10] = arcount >> 8;
  unsigned[11] = arcount & 0xff;
  return unsigned;
}

/** The Time Signed field of a signed message's TSIG record, in seconds. */
export function timeSignedOf(signed: Uint8Array, keyName: string, algorithm: string): number {
  const at = tsigStart(signed, keyName) + name(keyName).length + 10 + name(algorithm).length;
  return (signed[at]! * 2 ** 40) + (signed[at + 1]! * 2 ** 32) + (signed[at + 2]! * 2 ** 24) + ((signed[at + 3]! << 16) | (signed[at + 4]! << 8) | signed[at + 5]!);
}
