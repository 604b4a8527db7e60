import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/errors.ts";
import type { CliOptions } from "../../src/cli/issue.ts";
import { parseArgs } from "../../src/cli/main.ts";

const base = ["http01", "--dir", "https://127.0.0.1:14000/dir", "--record", "127.0.0.1", "--domain", "example.test"];

function options(argv: string[]): CliOptions {
  const parsed = parseArgs(argv);
  if (parsed.kind !== "run") throw new Error(`expected run, got ${parsed.kind}`);
  return parsed.options;
}

function usageError(argv: string[]): string {
  try {
    parseArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error("parseArgs() accepted the arguments");
}

describe("parseArgs()", () => {
  test("the ETH interface with its defaults", () => {
    expect(options([...base, "--domain", "www.example.test", "--revoke"])).toMatchObject({
      challenge: "http01",
      directoryUrl: "https://127.0.0.1:14000/dir",
      record: "127.0.0.1",
      domains: ["example.test", "www.example.test"],
      revoke: true,
      keyType: "ec256",
      bind: "0.0.0.0",
      ports: { dns: 10053, http: 5002, https: 5001, shutdown: 5003 },
    });
  });

  test("--flag=value works and ports, keys and the bind address can be changed", () => {
    expect(options([...base, "--https-port=8443", "--key-type", "rsa2048", "--bind", "127.0.0.1"])).toMatchObject({
      keyType: "rsa2048",
      bind: "127.0.0.1",
      ports: { https: 8443 },
    });
  });

  test("names are lowercased, stripped of a trailing dot, and deduplicated case-insensitively", () => {
    expect(options(["dns01", ...base.slice(1), "--domain", "EXAMPLE.test.", "--domain", "*.Example.Test"]).domains).toEqual(["example.test", "*.example.test"]);
  });

  test("--help and --version win over everything else", () => {
    expect(parseArgs(["--help"]).kind).toBe("help");
    expect(parseArgs(["http01", "-h"]).kind).toBe("help");
    expect(parseArgs(["--version"]).kind).toBe("version");
  });

  test.each([
    [[], /missing the challenge type/],
    [["tls01", ...base.slice(1), "--domain", "*.x.test"], /only with dns-01/],
    [["tls02", ...base.slice(1)], /unknown challenge type "tls02": use http01, dns01 or tls01/],
    [[...base, "--frobnicate"], /unknown option --frobnicate/],
    [["http01", "--record", "127.0.0.1", "--domain", "a.test"], /missing --dir/],
    [["http01", "--dir", "https://x/dir", "--domain", "a.test"], /missing --record/],
    [["http01", "--dir", "https://x/dir", "--record", "127.0.0.1"], /missing --domain/],
    [[...base.slice(0, 1), "--dir", "not a url", ...base.slice(3)], /not a URL nor a known CA \(letsencrypt, letsencrypt-staging, zerossl, google, google-staging\)/],
    [[...base.slice(0, 1), "--dir", "http://127.0.0.1:14000/dir", ...base.slice(3)], /needs https:\/\//],
    [[...base.slice(0, 3), "--record", "256.1.1.1", ...base.slice(5)], /not an IPv4 address/],
    [[...base.slice(0, 3), "--record", "::1", ...base.slice(5)], /not an IPv4 address/],
    [[...base, "--domain", "a..test"], /empty label/],
    [[...base, "--domain", `${"a".repeat(64)}.test`], /longer than 63/],
    [[...base, "--domain", Array(4).fill("a".repeat(63)).join(".")], /longer than 253/],
    [["dns01", ...base.slice(1), "--domain", "a.*.test"], /whole leftmost label/],
    [["dns01", ...base.slice(1), "--domain", "*a.test"], /whole leftmost label/],
    [[...base, "--domain", "*.example.test"], /^--domain: cannot use identifier "\*\.example\.test": a wildcard can be proven only with dns-01$/],
    [[...base, "--domain", "bad_name.test"], /letters, digits and inner hyphens/],
    [[...base, "--domain", "-bad.test"], /letters, digits and inner hyphens/],
    [[...base, "--dir"], /needs a value/],
    [[...base, "--http-port", "70000"], /not a port number/],
    [[...base, "--key-type", "dsa"], /not one of/],
    [[...base, "--revoke=yes"], /takes no value/],
    [[...base, "--dir", "https://other/dir"], /more than once/],
    [[...base, "extra"], /unexpected argument "extra"/],
  ] as [string[], RegExp][])("rejects %p", (argv, message) => {
    expect(usageError(argv)).toMatch(message);
  });

  test("an http:// directory is accepted only with --allow-insecure-http", () => {
    expect(options(["http01", "--dir", "http://127.0.0.1/dir", ...base.slice(3), "--allow-insecure-http"]).directoryUrl).toBe("http://127.0.0.1/dir");
  });

  test("IP addresses become ip identifiers in canonical form (RFC 8738), deduplicated", () => {
    const parsed = options([...base, "--domain", "127.0.0.1", "--ip", "2001:DB8:0:0::1", "--domain", "[2001:db8::1]"]);
    expect(parsed.identifiers).toEqual([
      { type: "dns", value: "example.test" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "2001:db8::1" },
    ]);
  });

  test("an IP address with dns01, or a malformed --ip, is refused", () => {
    expect(usageError(["dns01", ...base.slice(1), "--domain", "127.0.0.1"])).toMatch(/cannot be proven with dns-01/);
    expect(usageError([...base, "--ip", "300.1.1.1"])).toMatch(/not an IPv4 or IPv6 address/);
  });

  test("EAB needs both flags and a base64url key; --revoke-reason needs --revoke and a known reason", () => {
    expect(usageError([...base, "--eab-kid", "k"])).toMatch(/both --eab-kid and --eab-hmac-key/);
    expect(usageError([...base, "--eab-kid", "k", "--eab-hmac-key", "not base64!"])).toMatch(/not base64url/);
    expect(options([...base, "--eab-kid", "k", "--eab-hmac-key", "abc_-"]).eab).toEqual({ kid: "k", hmacKey: "abc_-" });
    expect(usageError([...base, "--revoke-reason", "1"])).toMatch(/needs --revoke/);
    expect(usageError([...base, "--revoke", "--revoke-reason", "7"])).toMatch(/not a revocation reason/);
    expect(options([...base, "--revoke", "--revoke-reason", "KeyCompromise"]).revokeReason).toBe(1);
  });

  test("ed25519 is an account key type only", () => {
    expect(options([...base, "--account-key-type", "ed25519"]).accountKeyType).toBe("ed25519");
    expect(usageError([...base, "--key-type", "ed25519"])).toMatch(/not one of/);
  });

  test("--record: the ETH command keeps it for http01 and tls01 too (its DNS server answers A queries, so the CA finds this machine); certonly, whose http01 and tls01 run no DNS server, refuses it there", () => {
    for (const challenge of ["http01", "tls01"]) expect(options([challenge, ...base.slice(1)]).record).toBe("127.0.0.1");
    const certonly = ["--dir", "https://ca.test/dir", "--domain", "a.test", "--state", "/tmp/state", "--record", "127.0.0.1"];
    for (const challenge of ["http01", "tls01"]) {
      expect(usageError(["certonly", challenge, ...certonly])).toBe("--record is for dns01's built-in DNS server: drop it, or use dns01");
    }
    const parsed = parseArgs(["certonly", "dns01", ...certonly]);
    expect(parsed.kind === "certonly" && parsed.options.config.solver).toEqual({ type: "dns-01", via: "responder", bind: "0.0.0.0", port: 53, record: "127.0.0.1" });
  });

  test("the command word is taken once: a flag value that spells a command stays a value", () => {
    const parsed = parseArgs(["account", "--dir", "https://ca.test/dir", "--state", "account"]);
    expect(parsed.kind === "account" && parsed.options.stateDir).toBe("account");
  });

  test("the revoke and renewal-info commands", () => {
    expect(parseArgs(["revoke", "--dir", "https://ca.test/dir", "--cert", "c.pem", "--cert-key", "k.pem", "--reason", "superseded"])).toEqual({
      kind: "revoke",
      options: { directoryUrl: "https://ca.test/dir", certFile: "c.pem", certKeyFile: "k.pem", reason: 4, caFile: undefined, allowInsecureHttp: false, timeoutSeconds: 300 },
    });
    expect(usageError(["revoke", "--dir", "https://ca.test/dir", "--cert", "c.pem"])).toMatch(/missing --cert-key/);
    expect(parseArgs(["renewal-info", "--cert", "c.pem"])).toEqual({
      kind: "renewal-info",
      options: { certFile: "c.pem", directoryUrl: undefined, json: false, caFile: undefined, timeoutSeconds: 300 },
    });
  });
});
