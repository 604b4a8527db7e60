import { describe, expect, test } from "bun:test";
import { decodePem, decodePemBlocks, encodePem } from "../../src/encoding/index.ts";

describe("PEM", () => {
  test("encodePem() wraps at 64 characters and decodePem() reverses it", () => {
    const der = Uint8Array.from({ length: 100 }, (_, i) => i);
    const pem = encodePem("CERTIFICATE", der);
    const lines = pem.trim().split("\n");
    expect(lines[0]).toBe("-----BEGIN CERTIFICATE-----");
    expect(lines[1]).toHaveLength(64);
    expect(lines.at(-1)).toBe("-----END CERTIFICATE-----");
    expect(decodePem(pem, "CERTIFICATE")).toEqual(der);
  });

  test("decodePemBlocks() returns every block of a chain in order, ignoring text around them", () => {
    const chain = `leaf:\n${encodePem("CERTIFICATE", Uint8Array.of(1))}junk\n${encodePem("CERTIFICATE", Uint8Array.of(2))}`;
    expect(decodePemBlocks(chain).map((block) => block.der[0])).toEqual([1, 2]);
  });

  test("decodePemBlocks() rejects a block without an END line", () => {
    expect(() => decodePemBlocks("-----BEGIN CERTIFICATE-----\nAQ==\n")).toThrow(SyntaxError);
  });

  test("decodePem() throws when the label is absent", () => {
    expect(() => decodePem(encodePem("CERTIFICATE", Uint8Array.of(1)), "PRIVATE KEY")).toThrow(/no "PRIVATE KEY" block/);
  });
});
