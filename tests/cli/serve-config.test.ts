/**
 * The daemon's configuration: the reverse proxy's keys (per-site limits, trusted_proxies) are read
 * into typed values, and a wrong one is refused naming the file, the line and the key.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, parseServeConfig } from "../../src/cli/serve-config.ts";

const HEAD = `directory = "https://ca.test/dir"\n`;

describe("parseServeConfig(): the proxy's keys", () => {
  test("reads per-site limits (seconds to milliseconds) and trusted_proxies", () => {
    const config = parseServeConfig(`${HEAD}trusted_proxies = ["10.0.0.0/8", "fd00::/8"]\n[[site]]\nnames = ["a.test"]\nupstream = "http://127.0.0.1:8080"\n` +
      `connect_timeout = 2.5\nresponse_header_timeout = 120\nmax_requests = 16\n[[site]]\nnames = ["b.test"]\nupstream = "http://127.0.0.1:8081"\n`, "serve.toml");
    expect(config.trustedProxies).toEqual(["10.0.0.0/8", "fd00::/8"]);
    expect(config.sites[0]).toMatchObject({ connectTimeoutMs: 2500, responseHeaderTimeoutMs: 120_000, maxRequests: 16 });
    expect(config.sites[1]).not.toHaveProperty("connectTimeoutMs");
  });

  test("without trusted_proxies, no peer is trusted", () => {
    expect(parseServeConfig(`${HEAD}[[site]]\nnames = ["a.test"]\n`, "serve.toml").trustedProxies).toEqual([]);
  });

  test.each([
    ["a range that is not CIDR", `${HEAD}trusted_proxies = ["10.0.0.0/33"]\n[[site]]\nnames = ["a.test"]\n`, `serve.toml:2: trusted_proxies: Cannot read "10.0.0.0/33" as an address range`],
    ["trusted_proxies not a list", `${HEAD}trusted_proxies = "10.0.0.0/8"\n[[site]]\nnames = ["a.test"]\n`, "serve.toml:2: trusted_proxies must be a list of CIDR ranges"],
    ["a timeout that is not a number", `${HEAD}[[site]]\nnames = ["a.test"]\nupstream = "http://127.0.0.1:1"\nconnect_timeout = "10s"\n`, "serve.toml:5: site 1: connect_timeout must be a number of seconds above 0"],
    ["a zero timeout", `${HEAD}[[site]]\nnames = ["a.test"]\nupstream = "http://127.0.0.1:1"\nresponse_header_timeout = 0\n`, "serve.toml:5: site 1: response_header_timeout must be a number of seconds above 0"],
    ["a fractional limit", `${HEAD}[[site]]\nnames = ["a.test"]\nupstream = "http://127.0.0.1:1"\nmax_requests = 1.5\n`, "serve.toml:5: site 1: max_requests must be a whole number above 0"],
    ["a limit on a site with no upstream", `${HEAD}[[site]]\nnames = ["a.test"]\nmax_requests = 8\n`, "serve.toml:4: site 1: max_requests applies only to a site with an upstream"],
  ])("refuses %s, naming file, line and key", (_, text, message) => {
    let error: unknown;
    try {
      parseServeConfig(text, "serve.toml");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
  });
});

describe("parseServeConfig(): [[issuer]]", () => {
  test("reads the CAs to fall back to, in order, presets resolved, EAB as a pair; none by default", () => {
    const config = parseServeConfig(`${HEAD}[[issuer]]\ndirectory = "https://second.test/dir"\nca = "/etc/second.pem"\n` +
      `[[issuer]]\ndirectory = "letsencrypt-staging"\neab_kid = "kid-1"\neab_hmac_key = "c2VjcmV0"\n[[site]]\nnames = ["a.test"]\n`, "serve.toml");
    expect(config.issuers).toEqual([
      { directoryUrl: "https://second.test/dir", ca: "/etc/second.pem" },
      { directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory", eab: { kid: "kid-1", hmacKey: "c2VjcmV0" } },
    ]);
    expect(parseServeConfig(`${HEAD}[[site]]\nnames = ["a.test"]\n`, "serve.toml").issuers).toEqual([]);
  });

  test.each([
    ["an unknown key", `${HEAD}[[issuer]]\ndirectory = "https://b.test/dir"\nroots = "x"\n[[site]]\nnames = ["a.test"]\n`, `serve.toml:4: issuer 1: unknown key "roots"`],
    ["a missing directory", `${HEAD}[[issuer]]\nca = "/x.pem"\n[[site]]\nnames = ["a.test"]\n`, `serve.toml: issuer 1: "directory" must be the CA's directory URL or a preset name`],
    ["plain http without allow_insecure_http", `${HEAD}[[issuer]]\ndirectory = "https://b.test/dir"\n[[issuer]]\ndirectory = "http://c.test/dir"\n[[site]]\nnames = ["a.test"]\n`, "serve.toml:5: issuer 2: directory:"],
    ["half an EAB", `${HEAD}[[issuer]]\ndirectory = "https://b.test/dir"\neab_kid = "kid"\n[[site]]\nnames = ["a.test"]\n`, "serve.toml:4: issuer 1: eab_kid and eab_hmac_key go together"],
    ["a ca that is not a path", `${HEAD}[[issuer]]\ndirectory = "https://b.test/dir"\nca = 1\n[[site]]\nnames = ["a.test"]\n`, "serve.toml:4: issuer 1: ca must be the path of a file of PEM roots"],
  ])("refuses %s, naming file, line and issuer", (_, text, message) => {
    let error: unknown;
    try {
      parseServeConfig(text, "serve.toml");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
  });
});
