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
