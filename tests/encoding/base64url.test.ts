import { describe, expect, test } from "bun:test";
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url, utf8Encode } from "../../src/encoding/index.ts";

// RFC 4648 §10 test vectors.
const vectors: [string, string][] = [["", ""], ["f", "Zg=="], ["fo", "Zm8="], ["foo", "Zm9v"], ["foob", "Zm9vYg=="], ["fooba", "Zm9vYmE="], ["foobar", "Zm9vYmFy"]];

describe("base64", () => {
  test.each(vectors)("encodeBase64(%p) matches RFC 4648 §10", (text, expected) => {
    expect(encodeBase64(utf8Encode(text))).toBe(expected);
    expect(decodeBase64(expected)).toEqual(utf8Encode(text));
  });

  test("encodeBase64Url() uses - and _ and drops padding", () => {
    expect(encodeBase64Url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect(encodeBase64Url(utf8Encode("f"))).toBe("Zg");
  });

  test("decodeBase64Url() round-trips every byte value", () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
  });

  test("decodeBase64Url() throws on characters outside the alphabet", () => {
    expect(() => decodeBase64Url("ab+c")).toThrow(SyntaxError);
    expect(() => decodeBase64Url("ab c")).toThrow(SyntaxError);
  });

  test("decodeBase64() throws on an impossible length", () => {
    expect(() => decodeBase64("abcde")).toThrow(SyntaxError);
  });
});
