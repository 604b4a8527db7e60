import { describe, expect, test } from "bun:test";
import { bitString, boolean, contextTag, encodeLength, ia5String, integer, nullValue, objectIdentifier, octetString, sequence, setOf, utf8String } from "../../src/asn1/der.ts";
import { ecdsaSignatureToDer } from "../../src/asn1/ecdsa-signature.ts";
import { decodeDer, readObjectIdentifier } from "../../src/asn1/decoder.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("DER encoder golden bytes (X.690)", () => {
  test.each([
    [0, "00"], [127, "7f"], [128, "8180"], [255, "81ff"], [256, "820100"], [65535, "82ffff"], [65536, "83010000"],
  ])("encodeLength(%p) is %s", (length, expected) => {
    expect(hex(encodeLength(length))).toBe(expected);
  });

  test.each([
    [0, "020100"], [127, "02017f"], [128, "02020080"], [256, "02020100"], [65537n, "0203010001"],
  ] as [number | bigint, string][])("integer(%p) is %s", (value, expected) => {
    expect(hex(integer(value))).toBe(expected);
  });

  test("integer() of unsigned bytes strips leading zeros and adds one before a high bit", () => {
    expect(hex(integer(Uint8Array.of(0, 0, 0x12)))).toBe("020112");
    expect(hex(integer(Uint8Array.of(0xff)))).toBe("020200ff");
    expect(hex(integer(Uint8Array.of(0, 0)))).toBe("020100");
  });

  test.each([
    ["1.2.840.113549", "06062a864886f70d"],
    ["2.5.29.17", "0603551d11"],
    ["1.2.840.10045.4.3.2", "06082a8648ce3d040302"],
    ["1.3.6.1.5.5.7.1.31", "06082b0601050507011f"],
  ])("objectIdentifier(%p) is %s", (oid, expected) => {
    expect(hex(objectIdentifier(oid))).toBe(expected);
  });

  test("objectIdentifier() rejects malformed text", () => {
    expect(() => objectIdentifier("1")).toThrow(SyntaxError);
    expect(() => objectIdentifier("1.2.03")).toThrow(SyntaxError);
    expect(() => objectIdentifier("1.40")).toThrow(SyntaxError);
  });

  test("strings, NULL, BOOLEAN, BIT STRING, OCTET STRING", () => {
    expect(hex(utf8String("é"))).toBe("0c02c3a9");
    expect(hex(ia5String("a.b"))).toBe("1603612e62");
    expect(() => ia5String("é")).toThrow(RangeError);
    expect(hex(nullValue())).toBe("0500");
    expect(hex(boolean(true))).toBe("0101ff");
    expect(hex(bitString(Uint8Array.of(0xab)))).toBe("030200ab");
    expect(hex(octetString(Uint8Array.of(1, 2)))).toBe("04020102");
  });

  test("sequence() keeps order, setOf() sorts by encoding", () => {
    expect(hex(sequence(integer(2), integer(1)))).toBe("3006020102020101");
    expect(hex(setOf(integer(2), integer(1)))).toBe("3106020101020102");
  });

  test("contextTag() builds constructed and primitive forms", () => {
    expect(hex(contextTag(0, integer(1), "constructed"))).toBe("a003020101");
    expect(hex(contextTag(2, Uint8Array.of(0x61), "primitive"))).toBe("820161");
    expect(() => contextTag(31, new Uint8Array(), "primitive")).toThrow(RangeError);
  });

  test("a long content gets a long-form length", () => {
    const encoded = octetString(new Uint8Array(300));
    expect(hex(encoded.subarray(0, 4))).toBe("0482012c");
    expect(encoded.length).toBe(304);
  });
});

describe("ecdsaSignatureToDer()", () => {
  test("converts r || s to SEQUENCE { INTEGER r, INTEGER s } with sign bytes where needed", () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80; // r has its high bit set: needs a leading zero
    raw[63] = 0x01; // s is 1 after stripping zeros
    expect(hex(ecdsaSignatureToDer(raw))).toBe(`3026022100${"80" + "00".repeat(31)}020101`);
  });

  test("rejects an odd length", () => {
    expect(() => ecdsaSignatureToDer(new Uint8Array(63))).toThrow(RangeError);
  });
});

describe("readObjectIdentifier() against OpenSSL's encoding", () => {
  /** The DER OpenSSL makes for an OID (an independent encoder): `openssl asn1parse -genstr OID:...`. */
  const opensslOid = (oid: string) => {
    const file = join(makeTempDir("bun-acme-oid-"), "oid.der");
    const run = Bun.spawnSync(["openssl", "asn1parse", "-genstr", `OID:${oid}`, "-out", file, "-noout"]);
    expect(run.exitCode).toBe(0);
    return new Uint8Array(readFileSync(file));
  };

  test.each([
    "1.2.840.113549.1.1.11",
    "2.5.29.17",
    "0.9.2342.19200300.100.1.25",
    "2.999.3",
    // Arcs around the number/BigInt boundaries: 2^46 - 1, 2^46, 2^53 - 1, 2^53 + 1, and a UUID (128 bits).
    "1.3.6.1.4.1.70368744177663",
    "1.3.6.1.4.1.70368744177664",
    "1.3.6.1.4.1.9007199254740991",
    "1.3.6.1.4.1.9007199254740993",
    "2.25.329800735698586629295641978511506172918",
  ])("%s", (oid) => {
    const der = opensslOid(oid);
    expect(readObjectIdentifier(decodeDer(der))).toBe(oid);
    expect(hex(objectIdentifier(oid))).toBe(hex(der));
  });

  test("a truncated arc is an error", () => {
    expect(() => readObjectIdentifier(decodeDer(Uint8Array.of(0x06, 0x02, 0x2a, 0x86)))).toThrow("truncated arc");
  });

  test("an arc padded with a leading 0x80 octet is not DER (X.690 8.19.2): an error, not the same OID", () => {
    // 1.2.840 is 2a 86 48; with the arc 840 padded: 2a 80 86 48.
    expect(() => readObjectIdentifier(decodeDer(Uint8Array.of(0x06, 0x04, 0x2a, 0x80, 0x86, 0x48)))).toThrow("padding octet");
  });

  test("an arc of 60,000 octets is refused (its BigInt reading took 0.9 s), one of 23 read", () => {
    const oid = Uint8Array.of(0x2a, ...new Array<number>(59_996).fill(0xff), 0x7f);
    const der = Uint8Array.of(0x06, 0x82, (oid.length >> 8) & 0xff, oid.length & 0xff, ...oid);
    expect(() => readObjectIdentifier(decodeDer(der))).toThrow("longer than 23 octets");
    const longest = Uint8Array.of(0x06, 24, 0x2a, ...new Array<number>(22).fill(0xff), 0x7f);
    expect(readObjectIdentifier(decodeDer(longest))).toBe(`1.2.${(2n ** 161n - 1n).toString()}`);
  });
});
