import { describe, expect, test } from "bun:test";
import { CA_PRESETS, normalizeIdentifiers, parseIdentifier, resolveDirectory } from "../../src/acme/index.ts";

describe("parseIdentifier()", () => {
  test.each([
    ["WWW.Example.NET.", { type: "dns", value: "www.example.net" }],
    ["*.example.net", { type: "dns", value: "*.example.net" }],
    ["192.0.2.1", { type: "ip", value: "192.0.2.1" }],
    ["[2001:DB8:0::1]", { type: "ip", value: "2001:db8::1" }],
  ])("reads %p", (text, identifier) => {
    expect(parseIdentifier(text)).toEqual(identifier as never);
  });

  test.each([
    ["", SyntaxError, /the name is empty/],
    ["a..test", SyntaxError, /empty label/],
    ["bad_name.test", SyntaxError, /letters, digits and inner hyphens/],
    ["a.*.test", SyntaxError, /whole leftmost label/],
    [`${"a".repeat(64)}.test`, RangeError, /label longer than 63/],
    [Array(4).fill("a".repeat(63)).join("."), RangeError, /longer than 253/],
  ] as const)("refuses %p with a %p", (text, ErrorClass, message) => {
    expect(() => parseIdentifier(text)).toThrow(ErrorClass);
    expect(() => parseIdentifier(text)).toThrow(message);
  });

  test("wildcards need dns-01 and IP addresses cannot use it, as RangeErrors", () => {
    expect(() => parseIdentifier("*.example.net", { challenge: "http-01" })).toThrow(RangeError);
    expect(() => parseIdentifier("192.0.2.1", { challenge: "dns-01" })).toThrow(/cannot be proven with dns-01/);
    expect(parseIdentifier("*.example.net", { challenge: "dns-01" }).value).toBe("*.example.net");
  });
});

describe("normalizeIdentifiers()", () => {
  test("dedupes case-insensitively, keeps the first order, and refuses an empty list", () => {
    expect(normalizeIdentifiers(["b.test", "A.test", "a.TEST.", { type: "ip", value: "127.0.0.1" }])).toEqual([
      { type: "dns", value: "b.test" },
      { type: "dns", value: "a.test" },
      { type: "ip", value: "127.0.0.1" },
    ]);
    expect(() => normalizeIdentifiers([])).toThrow(RangeError);
    expect(() => normalizeIdentifiers([{ type: "ip", value: "example.net" }])).toThrow(/not of type ip/);
  });
});

describe("resolveDirectory()", () => {
  test("presets, URLs, and the EAB flag of each preset", () => {
    expect(resolveDirectory("letsencrypt").directoryUrl).toBe("https://acme-v02.api.letsencrypt.org/directory");
    expect(resolveDirectory("zerossl").preset?.externalAccountRequired).toBe(true);
    expect(resolveDirectory("https://ca.test/dir")).toEqual({ directoryUrl: "https://ca.test/dir", preset: undefined });
    expect(Object.values(CA_PRESETS).filter((preset) => preset.externalAccountRequired).map((preset) => preset.name)).toEqual(["zerossl", "google", "google-staging"]);
  });

  test("refuses what is neither, and http:// unless allowed", () => {
    expect(() => resolveDirectory("letsencrpyt")).toThrow(SyntaxError);
    expect(() => resolveDirectory("http://ca.test/dir")).toThrow(RangeError);
    expect(() => resolveDirectory("ftp://ca.test/dir")).toThrow(RangeError);
    expect(resolveDirectory("http://ca.test/dir", { allowInsecureHttp: true }).directoryUrl).toBe("http://ca.test/dir");
  });
});
