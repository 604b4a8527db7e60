import { describe, expect, test } from "bun:test";
import { decodeName, decodePacket, DnsFormatError, EMPTY_HEADER, encodePacket, RecordType, type DnsPacket } from "../../src/dns/index.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const fromHex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"));

const query = (name: string, type: number, id = 0x1234): DnsPacket => ({
  header: { ...EMPTY_HEADER, id, rd: true },
  questions: [{ name, type, class: 1 }],
  answers: [],
  authorities: [],
  additionals: [],
});

describe("encodePacket() golden bytes", () => {
  test("a query for example.com A with RD set (RFC 1035 §4.1)", () => {
    expect(hex(encodePacket(query("example.com", RecordType.A)))).toBe(
      "123401000001000000000000" + "076578616d706c6503636f6d00" + "00010001",
    );
  });

  test("names are compressed as in the RFC 1035 §4.1.4 example (F.ISI.ARPA, FOO.F.ISI.ARPA, ARPA)", () => {
    const packet: DnsPacket = {
      header: EMPTY_HEADER,
      questions: [{ name: "F.ISI.ARPA", type: 1, class: 1 }, { name: "FOO.F.ISI.ARPA", type: 1, class: 1 }, { name: "ARPA", type: 1, class: 1 }],
      answers: [],
      authorities: [],
      additionals: [],
    };
    expect(hex(encodePacket(packet))).toBe(
      "000000000003000000000000" +
        "01460349534904415250410000010001" + // F.ISI.ARPA at offset 12
        "03464f4fc00c00010001" + // FOO + pointer to 12
        "c01200010001", // pointer to ARPA at offset 18
    );
  });
});

describe("decodePacket() round trips", () => {
  test("every record type survives encode → decode", () => {
    const packet: DnsPacket = {
      header: { ...EMPTY_HEADER, id: 7, qr: true, aa: true, rd: true, rcode: 0 },
      questions: [{ name: "example.test", type: RecordType.ANY, class: 1 }],
      answers: [
        { name: "example.test", class: 1, ttl: 60, data: { type: "A", address: "192.0.2.1" } },
        { name: "example.test", class: 1, ttl: 60, data: { type: "AAAA", address: "2001:db8::1" } },
        { name: "example.test", class: 1, ttl: 0, data: { type: "TXT", texts: ["hello", "", "wörld"] } },
        { name: "www.example.test", class: 1, ttl: 60, data: { type: "CNAME", target: "example.test" } },
        { name: "example.test", class: 1, ttl: 60, data: { type: "CAA", flags: 128, tag: "issue", value: "letsencrypt.org" } },
      ],
      authorities: [
        { name: "example.test", class: 1, ttl: 60, data: { type: "NS", target: "ns1.example.test" } },
        {
          name: "example.test", class: 1, ttl: 60,
          data: { type: "SOA", mname: "ns1.example.test", rname: "hostmaster.example.test", serial: 2026112801, refresh: 3600, retry: 600, expire: 86400, minimum: 60 },
        },
      ],
      additionals: [{ name: "", class: 1232, ttl: 0, data: { type: "UNKNOWN", typeCode: RecordType.OPT, rdata: new Uint8Array() } }],
    };
    expect(decodePacket(encodePacket(packet))).toEqual(packet);
  });

  test("AAAA addresses come back in RFC 5952 form", () => {
    for (const address of ["::", "::1", "2001:db8::", "2001:db8:0:1:1:1:1:1", "fe80::1:0:0:1"]) {
      const packet = { ...query("a.test", RecordType.AAAA), answers: [{ name: "a.test", class: 1, ttl: 1, data: { type: "AAAA" as const, address } }] };
      expect(decodePacket(encodePacket(packet)).answers[0]!.data).toEqual({ type: "AAAA", address });
    }
  });

  test("unknown types keep their raw RDATA", () => {
    const packet = { ...query("a.test", 99), answers: [{ name: "a.test", class: 1, ttl: 1, data: { type: "UNKNOWN" as const, typeCode: 99, rdata: Uint8Array.of(1, 2, 3) } }] };
    expect(decodePacket(encodePacket(packet))).toEqual(packet);
  });
});

describe("decodePacket() rejects malformed input", () => {
  const header = (qd: number, an = 0) => `1234 0100 ${qd.toString(16).padStart(4, "0")} ${an.toString(16).padStart(4, "0")} 0000 0000`;

  test("a header shorter than 12 bytes, without an ID", () => {
    const error = (() => {
      try {
        decodePacket(fromHex("1234 0100 0001"));
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DnsFormatError);
    expect((error as DnsFormatError).id).toBeUndefined();
  });

  test.each([
    ["a forward compression pointer", `${header(1)} c014 00010001 00`],
    ["a pointer to itself", `${header(1)} c00c 00010001`],
    ["a label over 63 bytes", `${header(1)} 40${"61".repeat(64)}00 00010001`],
    ["a truncated label", `${header(1)} 05616263`],
    ["a reserved label type (0x40)", `${header(1)} 4100 00010001`],
    ["absurd section counts", `${header(65535, 65535)} 00 00010001`],
    ["trailing bytes", `${header(1)} 00 00010001 ff`],
    ["an RDATA length running past the end", `${header(0, 1)} 00 0001 0001 0000003c 0010 7f000001`],
    ["an A record with 3 bytes of RDATA", `${header(0, 1)} 00 0001 0001 0000003c 0003 7f0000`],
    ["a TXT string overrunning its RDATA", `${header(0, 1)} 00 0010 0001 0000003c 0002 0561`],
  ])("%s, keeping the message ID for FORMERR", (_, bytes) => {
    let caught: unknown;
    try {
      decodePacket(fromHex(bytes));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DnsFormatError);
    expect((caught as DnsFormatError).id).toBe(0x1234);
  });

  test("a name over 255 bytes made of valid labels", () => {
    const labels = Array.from({ length: 5 }, () => `3f${"61".repeat(63)}`).join("");
    expect(() => decodePacket(fromHex(`${header(1)} ${labels}00 00010001`))).toThrow(/longer than 255/);
  });

  test("a loop between two pointers", () => {
    // offset 12: pointer to 14; offset 14: pointer to 12
    expect(() => decodeName(fromHex(`${header(1)} c00e c00c`), 12)).toThrow(DnsFormatError);
    expect(() => decodeName(fromHex(`${header(1)} c00e c00c`), 14)).toThrow(DnsFormatError);
  });

  test("16k nested backward pointers decode in bounded time to the root name", () => {
    const count = 16_384;
    const bytes = new Uint8Array(12 + 1 + count * 2);
    bytes[12] = 0; // the root name
    for (let i = 0; i < count; i++) {
      const at = 13 + i * 2;
      const target = i === 0 ? 12 : at - 2;
      bytes[at] = 0xc0 | (target >> 8);
      bytes[at + 1] = target & 0xff;
    }
    const started = performance.now();
    expect(decodeName(bytes, 13 + (count - 1) * 2).name).toBe("");
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("encodePacket() refuses names the wire cannot carry", () => {
  test.each([["an empty label", "a..test"], ["a label over 63", `${"a".repeat(64)}.test`], ["a name over 255", Array(5).fill("a".repeat(63)).join(".")]])(
    "%s",
    (_, name) => {
      expect(() => encodePacket(query(name, 1))).toThrow(RangeError);
    },
  );
});

describe("names with bytes outside printable ASCII", () => {
  test("decode to master-file escapes and encode back to the same bytes", () => {
    // www\255 . a\.b . test
    const wire = fromHex("1234 0100 0001 0000 0000 0000 04777777ff 03612e62 0474657374 00 00010001");
    const packet = decodePacket(wire);
    expect(packet.questions[0]!.name).toBe("www\\255.a\\.b.test");
    expect(hex(encodePacket(packet))).toBe(hex(wire));
  });

  test("encodePacket() refuses raw non-ASCII text and bad escapes", () => {
    expect(() => encodePacket(query("é.test", 1))).toThrow(/punycode/);
    expect(() => encodePacket(query("a\\256.test", 1))).toThrow(RangeError);
    expect(() => encodePacket(query("a\\", 1))).toThrow(RangeError);
  });
});
