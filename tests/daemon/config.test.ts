/**
 * The daemon's configuration: the reverse proxy's keys (per-site limits, trusted_proxies) are read
 * into typed values, and a wrong one is refused naming the file, the line and the key.
 */
import { describe, expect, test } from "bun:test";
import { ConfigError, parseServeConfig } from "../../src/daemon/index.ts";

/** What parseServeConfig() throws for `text` (undefined when it accepts it). */
function refusal(text: string): unknown {
  try {
    parseServeConfig(text, "serve.toml");
  } catch (caught) {
    return caught;
  }
  return undefined;
}

/** A test.each row's check: the text is refused with a ConfigError whose message starts with `message`. */
function expectRefused(_: string, text: string, message: string): void {
  const error = refusal(text);
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toStartWith(message);
}

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
  ])("refuses %s, naming file, line and key", expectRefused);
});

describe("parseServeConfig(): deploy_hook_timeout", () => {
  test("reads a site's deploy hook time limit (seconds to milliseconds); none set: the hook's default applies", () => {
    const config = parseServeConfig(`${HEAD}[[site]]\nnames = ["a.test"]\ndeploy_hook = "systemctl reload nginx"\ndeploy_hook_timeout = 600\n[[site]]\nnames = ["b.test"]\ndeploy_hook = "true"\n`, "serve.toml");
    expect(config.sites[0]).toMatchObject({ deployHook: "systemctl reload nginx", deployHookTimeoutMs: 600_000 });
    expect(config.sites[1]).not.toHaveProperty("deployHookTimeoutMs");
  });

  test.each([
    ["a limit that is not a number", `${HEAD}[[site]]\nnames = ["a.test"]\ndeploy_hook = "true"\ndeploy_hook_timeout = "10m"\n`, "serve.toml:5: site 1: deploy_hook_timeout must be a number of seconds above 0"],
    ["a limit of zero", `${HEAD}[[site]]\nnames = ["a.test"]\ndeploy_hook = "true"\ndeploy_hook_timeout = 0\n`, "serve.toml:5: site 1: deploy_hook_timeout must be a number of seconds above 0"],
    ["a limit without a deploy hook", `${HEAD}[[site]]\nnames = ["a.test"]\ndeploy_hook_timeout = 60\n`, "serve.toml:4: site 1: deploy_hook_timeout applies only to a site with a deploy_hook"],
  ])("refuses %s, naming file, line and key", expectRefused);
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
    const error = refusal(text);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
  });
});

describe("parseServeConfig(): keys read with the field validator", () => {
  const SITE = `[[site]]\nnames = ["a.test"]\n`;
  test.each([
    ["a port out of range", `${HEAD}[listen]\nhttps = 70000\n${SITE}`, "serve.toml:3: https must be a port number (1-65535)"],
    ["a hostname that is not text", `${HEAD}[listen]\nhostname = 8\n${SITE}`, "serve.toml:3: hostname must be a non-empty string"],
    ["[admin] without a port", `${HEAD}[admin]\nhostname = "127.0.0.1"\n${SITE}`, "serve.toml: [admin] port must be a port number, e.g. port = 9180"],
    ["a key type no one knows", `${HEAD}key_type = "ec999"\n${SITE}`, "serve.toml:2: key_type must be one of ec256"],
    ["a challenge serve does not answer", `${HEAD}challenge = "tls-sni-01"\n${SITE}`, "serve.toml:2: challenge must be one of http-01, dns-01, tls-alpn-01"],
    ["contacts that are not text", `${HEAD}contact = [1]\n${SITE}`, "serve.toml:2: contact must be an array of strings"],
    ["a store that is not a path", `${HEAD}store = 5\n${SITE}`, "serve.toml:2: store must be a non-empty string"],
    ["an [rfc2136] port that is text", `${HEAD}challenge = "dns-01"\n[rfc2136]\nserver = "127.0.0.1"\nport = "53"\n${SITE}`, "serve.toml:5: [rfc2136] port must be a port number (1-65535)"],
    ["an upstream without //", `${HEAD}[[site]]\nnames = ["a.test"]\nupstream = "http:a.test"\n`, "serve.toml:4: site 1: upstream must be an http:// or https:// URL"],
    ["names that are not a list", `${HEAD}[[site]]\nnames = "a.test"\n`, "serve.toml:3: site 1: names must be a list of names"],
    ["listen that is not a table", `${HEAD}listen = 5\n${SITE}`, "serve.toml:2: listen must be a table, written [listen]"],
    ["admin that is not a table", `${HEAD}admin = "127.0.0.1:9180"\n${SITE}`, "serve.toml:2: admin must be a table, written [admin]"],
    ["rfc2136 that is not a table", `${HEAD}challenge = "dns-01"\nrfc2136 = "ns1"\n${SITE}`, "serve.toml:3: rfc2136 must be a table, written [rfc2136]"],
    ["issuers that are names, not tables", `${HEAD}issuer = ["zerossl"]\n${SITE}`, "serve.toml: issuer 1: issuer must be tables, written [[issuer]]"],
    ["site that is not a table", `${HEAD}site = "a.test"\n`, "serve.toml:2: site must be a table, written [[site]]"],
    ["allow_insecure_http that is text", `${HEAD}allow_insecure_http = "yes"\n${SITE}`, "serve.toml:2: allow_insecure_http must be true or false"],
  ])("refuses %s, naming file, line and key", (_, text, message) => {
    const error = refusal(text);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
    expect((error as Error).message).not.toContain("\n");
  });
});

describe("parseServeConfig(): [on_demand] and tls-alpn-01", () => {
  const ASK = `[on_demand]\nask = "http://127.0.0.1:9123/check"\n`;
  const UP = `upstream = "http://127.0.0.1:8080"\n`;

  test("reads [on_demand]: ask, max_per_minute (default 10), its sites' patterns (none: any name); listed sites stay apart", () => {
    const config = parseServeConfig(`${HEAD}${ASK}max_per_minute = 3\n[[site]]\nnames = ["a.test"]\n${UP}[[site]]\non_demand = true\nnames = ["*.Customers.test", "shop.test"]\n${UP}` +
      `[[site]]\non_demand = true\n${UP}connect_timeout = 2\n`, "serve.toml");
    expect(config.sites.map((site) => site.names.map((name) => name.value))).toEqual([["a.test"]]);
    expect(config.onDemand).toEqual({
      ask: "http://127.0.0.1:9123/check",
      maxPerMinute: 3,
      sites: [{ patterns: ["*.customers.test", "shop.test"], upstream: "http://127.0.0.1:8080" }, { patterns: ["*"], upstream: "http://127.0.0.1:8080", connectTimeoutMs: 2000 }],
    });
    expect(parseServeConfig(`${HEAD}${ASK}[[site]]\non_demand = true\n${UP}`, "serve.toml").onDemand?.maxPerMinute).toBe(10);
    expect(parseServeConfig(`${HEAD}[[site]]\nnames = ["a.test"]\n`, "serve.toml").onDemand).toBeUndefined();
  });

  test("reads challenge = \"tls-alpn-01\", and refuses a wildcard with it", () => {
    expect(parseServeConfig(`${HEAD}challenge = "tls-alpn-01"\n[[site]]\nnames = ["a.test"]\n`, "serve.toml").challenge).toBe("tls-alpn-01");
    expect(() => parseServeConfig(`${HEAD}challenge = "tls-alpn-01"\n[[site]]\nnames = ["*.a.test"]\n`, "serve.toml")).toThrow(ConfigError);
  });

  test.each([
    ["on_demand = true without [on_demand]", `${HEAD}[[site]]\nnames = ["a.test"]\n[[site]]\non_demand = true\n${UP}`, `serve.toml:5: on_demand = true needs [on_demand] with ask = "http://..."`],
    ["[on_demand] without ask", `${HEAD}[on_demand]\nmax_per_minute = 5\n[[site]]\non_demand = true\n${UP}`, `serve.toml:2: [on_demand] needs ask = "http://..."`],
    ["an ask that is not an http(s) URL", `${HEAD}[on_demand]\nask = "file:///etc/passwd"\n[[site]]\non_demand = true\n${UP}`, "serve.toml:3: [on_demand] ask must be an http:// or https:// URL"],
    ["an ask that is not a URL at all", `${HEAD}[on_demand]\nask = "http://"\n[[site]]\non_demand = true\n${UP}`, "serve.toml:3: [on_demand] ask must be an http:// or https:// URL"],
    ["an ask that is not a string", `${HEAD}[on_demand]\nask = 8080\n[[site]]\non_demand = true\n${UP}`, "serve.toml:3: [on_demand] ask must be an http:// or https:// URL"],
    ["an unknown key in [on_demand]", `${HEAD}${ASK}interval = "1m"\n[[site]]\non_demand = true\n${UP}`, `serve.toml:4: unknown key "interval" in [on_demand]`],
    ["a max_per_minute of 0", `${HEAD}${ASK}max_per_minute = 0\n[[site]]\non_demand = true\n${UP}`, "serve.toml:4: [on_demand] max_per_minute must be a whole number above 0"],
    ["[on_demand] that serves no site", `${HEAD}${ASK}[[site]]\nnames = ["a.test"]\n`, "serve.toml:2: [on_demand] serves no site"],
    ["an on_demand site without an upstream", `${HEAD}${ASK}[[site]]\non_demand = true\n`, "serve.toml: site 1: an on_demand site needs an upstream"],
    ["an on_demand site with a deploy hook", `${HEAD}${ASK}[[site]]\non_demand = true\n${UP}deploy_hook = "true"\n`, "serve.toml:7: site 1: deploy_hook is not for an on_demand site"],
    ["an on_demand site with a deploy hook time limit", `${HEAD}${ASK}[[site]]\non_demand = true\n${UP}deploy_hook_timeout = 60\n`, "serve.toml:7: site 1: deploy_hook_timeout is not for an on_demand site"],
    ["an IP address as an on-demand pattern", `${HEAD}${ASK}[[site]]\non_demand = true\nnames = ["192.0.2.1"]\n${UP}`, `serve.toml:6: site 1: "192.0.2.1" is an IP address`],
    ["two catch-all on_demand sites", `${HEAD}${ASK}[[site]]\non_demand = true\n${UP}[[site]]\non_demand = true\n${UP}`, `serve.toml: site 2: "any name (no names)" is already in site 1`],
    ["a name both listed and on demand", `${HEAD}${ASK}[[site]]\nnames = ["a.test"]\n[[site]]\non_demand = true\nnames = ["a.test"]\n${UP}`, `serve.toml:8: site 2: "a.test" is already in site 1`],
    ["on_demand not a boolean", `${HEAD}${ASK}[[site]]\non_demand = "yes"\n${UP}`, "serve.toml:5: site 1: on_demand must be true or false"],
  ])("refuses %s, in one line naming file and line", (_, text, message) => {
    const error = refusal(text);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
    expect((error as Error).message).not.toContain("\n");
  });
});

describe("parseServeConfig(): an unknown key named at its own line, whatever characters it has", () => {
  const SITE = `[[site]]\nnames = ["a.test"]\nupstream = "http://127.0.0.1:1"\n`;
  test.each([
    ["a key with ( in a site", `${HEAD}${SITE}"a(" = 1\n`, `serve.toml:5: unknown key "a(" in site 1`],
    ["a key with [ at the top", `${HEAD}"b[" = 1\n${SITE}`, `serve.toml:2: unknown key "b["`],
    ["a key with ) in [on_demand]", `${HEAD}[on_demand]\nask = "http://127.0.0.1:9/"\n"x)" = 2\n[[site]]\non_demand = true\nupstream = "http://127.0.0.1:1"\n`, `serve.toml:4: unknown key "x)" in [on_demand]`],
    // Read as a pattern, "n.mes" matched names = on line 3.
    ["a key with . that a pattern would match to names", `${HEAD}${SITE}"n.mes" = 1\n`, `serve.toml:5: unknown key "n.mes" in site 1`],
  ])("refuses %s as a ConfigError naming its line", (_, text, message) => {
    const error = refusal(text); // unescaped in a RegExp: SyntaxError "Invalid regular expression", or another key's line
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toStartWith(message);
  });
});
