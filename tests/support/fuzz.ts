/**
 * Deterministic random and mutated DNS messages for fuzz tests (seeded, so a failure reproduces).
 */
import { EMPTY_HEADER, encodePacket, RecordType, type DnsPacket } from "../../src/dns/index.ts";

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opt = { name: "", class: 4096, ttl: 0, data: { type: "UNKNOWN" as const, typeCode: RecordType.OPT, rdata: new Uint8Array() } };

function query(name: string, type: number, withEdns = false): DnsPacket {
  return {
    header: { ...EMPTY_HEADER, id: 0x4242, rd: true },
    questions: [{ name, type, class: 1 }],
    answers: [],
    authorities: [],
    additionals: withEdns ? [opt] : [],
  };
}

/** Valid messages the mutations start from. */
export const SEEDS: readonly Uint8Array[] = [
  encodePacket(query("example.test", RecordType.A)),
  encodePacket(query("_acme-challenge.example.test", RecordType.TXT, true)),
  encodePacket(query(`${"a".repeat(63)}.${"b".repeat(63)}.test`, RecordType.AAAA)),
  encodePacket({
    ...query("www.example.test", RecordType.ANY),
    answers: [
      { name: "www.example.test", class: 1, ttl: 1, data: { type: "CNAME", target: "example.test" } },
      { name: "example.test", class: 1, ttl: 1, data: { type: "SOA", mname: "ns.example.test", rname: "h.example.test", serial: 1, refresh: 2, retry: 3, expire: 4, minimum: 5 } },
      { name: "example.test", class: 1, ttl: 1, data: { type: "CAA", flags: 0, tag: "issue", value: "ca.test" } },
    ],
  }),
];

/** Returns a random or mutated message. Half of them have the QR bit cleared, so a server answers them. */
export function fuzzMessage(random: () => number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  let bytes: Uint8Array;
  if (random() < 0.15) {
    bytes = Uint8Array.from({ length: int(600) }, () => int(256));
  } else {
    bytes = new Uint8Array(SEEDS[int(SEEDS.length)]!);
    for (let n = 1 + int(4); n > 0; n--) bytes = mutate(bytes, random, int);
  }
  if (bytes.length > 2 && random() < 0.5) bytes[2]! &= 0x7f;
  return bytes;
}

function mutate(bytes: Uint8Array, random: () => number, int: (n: number) => number): Uint8Array {
  const at = int(Math.max(bytes.length, 1));
  switch (int(8)) {
    case 0: // flip a bit
      if (bytes.length) bytes[at]! ^= 1 << int(8);
      return bytes;
    case 1: // an interesting byte: pointer, max label, reserved label type, all ones
      if (bytes.length) bytes[at] = [0xc0, 0x3f, 0x40, 0xff, 0x00, 0x80][int(6)]!;
      return bytes;
    case 2: // truncate
      return bytes.slice(0, at);
    case 3: // append junk
      return Uint8Array.from([...bytes, ...Array.from({ length: 1 + int(64) }, () => int(256))]);
    case 4: // absurd section counts
      if (bytes.length >= 12) bytes.set([random() < 0.5 ? 0xff : int(256), int(256)], 4 + 2 * int(4));
      return bytes;
    case 5: { // a compression pointer anywhere, forward, backward or onto itself
      const copy = Uint8Array.from([...bytes.slice(0, at), 0xc0 | int(64), int(256), ...bytes.slice(at)]);
      return copy;
    }
    case 6: { // duplicate a slice (grows names and sections)
      const start = int(Math.max(bytes.length, 1));
      const slice = bytes.slice(start, start + 1 + int(32));
      return Uint8Array.from([...bytes.slice(0, at), ...slice, ...bytes.slice(at)]);
    }
    default: // an OPT record or unknown type/class in place of the question's
      if (bytes.length >= 4) bytes.set([int(256), int(256)], bytes.length - 4 + 2 * int(2));
      return bytes;
  }
}
