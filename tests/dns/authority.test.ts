import { describe, expect, test } from "bun:test";
import { decodePacket, EMPTY_HEADER, encodePacket, RCode, RecordType, respondToQuery, type AuthoritativeZone, type DnsPacket } from "../../src/dns/index.ts";

const zone: AuthoritativeZone = {
  address: "192.0.2.7",
  txtValues: (name) => (name === "_acme-challenge.example.test" ? ["first", "second"] : name === "big.test" ? Array(20).fill("x".repeat(200)) : []),
};

function ask(name: string, type: number, extra: Partial<DnsPacket> = {}): Uint8Array {
  return encodePacket({ header: { ...EMPTY_HEADER, id: 42, rd: true }, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [], ...extra });
}

function answer(query: Uint8Array, transport: "udp" | "tcp" = "udp"): DnsPacket {
  const bytes = respondToQuery(query, zone, transport);
  expect(bytes).toBeDefined();
  return decodePacket(bytes!);
}

describe("respondToQuery()", () => {
  test("answers every A query with the zone's address, authoritatively, keeping the asked case", () => {
    const response = answer(ask("AnyThing.Example.TEST", RecordType.A));
    expect(response.header).toMatchObject({ id: 42, qr: true, aa: true, rd: true, rcode: RCode.NOERROR });
    expect(response.questions[0]!.name).toBe("AnyThing.Example.TEST");
    expect(response.answers.map((record) => record.data)).toEqual([{ type: "A", address: "192.0.2.7" }]);
  });

  test("answers TXT for a challenge name with every value, case-insensitively", () => {
    const response = answer(ask("_ACME-challenge.example.test", RecordType.TXT));
    expect(response.answers.map((record) => record.data)).toEqual([{ type: "TXT", texts: ["first"] }, { type: "TXT", texts: ["second"] }]);
  });

  test("other types and unknown TXT names get NOERROR with no answer", () => {
    for (const [name, type] of [["example.test", RecordType.AAAA], ["example.test", 15], ["nothing.test", RecordType.TXT]] as const) {
      const response = answer(ask(name, type));
      expect(response.header.rcode).toBe(RCode.NOERROR);
      expect(response.answers).toEqual([]);
    }
  });

  test("a malformed query with a readable header gets FORMERR with its ID", () => {
    const bytes = ask("example.test", 1);
    bytes[bytes.length - 1] = 0; // still fine
    const broken = Uint8Array.of(...bytes.subarray(0, 12), 0xc0, 0x40); // forward pointer
    const response = answer(broken);
    expect(response.header).toMatchObject({ id: 42, qr: true, rcode: RCode.FORMERR });
  });

  test("fewer than 12 bytes, or a message that is itself a response, are dropped", () => {
    expect(respondToQuery(Uint8Array.of(1, 2, 3), zone, "udp")).toBeUndefined();
    const response = ask("example.test", 1);
    response[2]! |= 0x80;
    expect(respondToQuery(response, zone, "udp")).toBeUndefined();
  });

  test("an opcode other than QUERY gets NOTIMP; two questions get FORMERR", () => {
    const notify = ask("example.test", 1);
    notify[2] = (4 << 3) | 1; // NOTIFY
    expect(answer(notify).header.rcode).toBe(RCode.NOTIMP);
    const two = encodePacket({
      header: { ...EMPTY_HEADER, id: 1 }, questions: [{ name: "a.test", type: 1, class: 1 }, { name: "b.test", type: 1, class: 1 }],
      answers: [], authorities: [], additionals: [],
    });
    expect(answer(two).header.rcode).toBe(RCode.FORMERR);
  });

  test("an answer over 512 bytes is sent empty with TC over UDP and whole over TCP", () => {
    const udp = answer(ask("big.test", RecordType.TXT));
    expect(udp.header.tc).toBe(true);
    expect(udp.answers).toEqual([]);
    const tcp = answer(ask("big.test", RecordType.TXT), "tcp");
    expect(tcp.header.tc).toBe(false);
    expect(tcp.answers).toHaveLength(20);
  });

  test("EDNS queries get an OPT record back", () => {
    const opt = { name: "", class: 4096, ttl: 0, data: { type: "UNKNOWN" as const, typeCode: RecordType.OPT, rdata: new Uint8Array() } };
    const response = answer(ask("example.test", RecordType.A, { additionals: [opt] }));
    expect(response.additionals).toHaveLength(1);
    expect(response.additionals[0]!.data).toMatchObject({ typeCode: RecordType.OPT });
  });
});
