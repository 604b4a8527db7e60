/**
 * The daemon's configuration (`serve --config`): TOML, read with Bun's built-in parser, every key checked.
 * Errors name the file, the line and the key, so that a typo is found before anything starts
 * (and, on SIGHUP, before the running configuration is replaced).
 */
import { readFileSync } from "node:fs";
import { normalizeIdentifiers, resolveDirectory, type Identifier } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import { KEY_TYPES, type KeyType } from "../jose/index.ts";
import { cidrMatcher } from "../servers/index.ts";
import { field, sourceOf, type Source } from "../validate/index.ts";

/** One site: its names, and where its HTTPS requests go (none: the certificate is only kept renewed). */
export interface SiteConfig {
  readonly names: readonly Identifier[];
  readonly upstream?: string;
  readonly deployHook?: string;
  /** Proxy limits for this site's upstream (seconds in the file, milliseconds here). */
  readonly connectTimeoutMs?: number;
  readonly responseHeaderTimeoutMs?: number;
  readonly maxRequests?: number;
}

/**
 * A `[[site]]` with `on_demand = true`: no certificate obtained at start; each name it covers gets
 * its own certificate during its first handshake, if `[on_demand]`'s `ask` URL allows it.
 */
export interface OnDemandSiteConfig {
  /** Exact names and `*.example.net` (one label, as served); `["*"]` when the site lists none: any name `ask` allows. */
  readonly patterns: readonly string[];
  readonly upstream: string;
  readonly connectTimeoutMs?: number;
  readonly responseHeaderTimeoutMs?: number;
  readonly maxRequests?: number;
}

/** `[on_demand]` (Caddy's `on_demand_tls`): the decision endpoint, the budget, and the sites it serves. */
export interface OnDemandConfig {
  /** GET `ask?domain=NAME`: 2xx allows the name, anything else (or no answer in time) refuses it. */
  readonly ask: string;
  /** New on-demand certificates per minute, all names together. */
  readonly maxPerMinute: number;
  readonly sites: readonly OnDemandSiteConfig[];
}

/** `[[issuer]]`: a CA to fall back to, after `directory`, with its own roots file and EAB. */
export interface IssuerConfig {
  readonly directoryUrl: string;
  /** A file of PEM roots that verify the CA. */
  readonly ca?: string;
  readonly eab?: { readonly kid: string; readonly hmacKey: string };
}

/** The whole file, checked. */
export interface ServeConfig {
  readonly directoryUrl: string;
  readonly allowInsecureHttp: boolean;
  readonly ca?: string;
  /** CAs tried in order after `directoryUrl` when it fails on its side. */
  readonly issuers: readonly IssuerConfig[];
  readonly store?: string;
  /** With a shared store: the folder keeping a copy of every certificate served. */
  readonly cache?: string;
  readonly contact: readonly string[];
  readonly keyType: KeyType;
  /**
   * How names are proven: `http-01` (default; the daemon's HTTP port answers) or `dns-01`, through
   * `[rfc2136]` (dynamic updates to your name server, TSIG-signed) or `dns_hook` (a command run as
   * `COMMAND present|cleanup NAME VALUE`). dns-01 allows wildcard names. `tls-alpn-01`: answered on
   * the HTTPS port itself (RFC 8737), for setups where only port 443 reaches the daemon.
   */
  readonly challenge: "http-01" | "dns-01" | "tls-alpn-01";
  readonly dns?: { readonly kind: "rfc2136"; readonly server: string; readonly port: number; readonly tsigKeyFile?: string } | { readonly kind: "hook"; readonly command: string };
  /** `http2`: offer HTTP/2 by ALPN on the HTTPS port (default true; HTTP/1.1 for clients that do not ask for it). */
  readonly listen: { readonly hostname: string; readonly https: number; readonly http: number; readonly http2: boolean };
  /** `[admin]`: `/metrics` and `/healthz` on their own address; absent: off. */
  readonly admin?: { readonly hostname: string; readonly port: number; readonly healthMarginMs: number };
  readonly sites: readonly SiteConfig[];
  /** `[on_demand]` with its `on_demand = true` sites; absent: certificates only for the names listed. */
  readonly onDemand?: OnDemandConfig;
  /** Peers (CIDR ranges) whose X-Forwarded-* and Forwarded headers the proxy believes. */
  readonly trustedProxies: readonly string[];
  /** One JSON line per proxied request on standard output. */
  readonly accessLog: boolean;
}

/** The daemon's configuration is wrong: `file:line: what` (the command line exits 2 for it). */
export class ConfigError extends BunAcmeError {
  declare readonly code: "ERR_CONFIG";
  constructor(message: string) {
    super("ERR_CONFIG", message);
    this.name = "ConfigError";
  }
}

const TOP_KEYS = ["directory", "allow_insecure_http", "ca", "store", "cache", "contact", "key_type", "trusted_proxies", "access_log", "challenge", "rfc2136", "dns_hook", "listen", "admin", "issuer", "site", "on_demand"] as const;
const ON_DEMAND_KEYS = ["ask", "max_per_minute"] as const;
const RFC2136_KEYS = ["server", "port", "tsig_key_file"] as const;
const ISSUER_KEYS = ["directory", "ca", "eab_kid", "eab_hmac_key"] as const;
const LISTEN_KEYS = ["hostname", "https", "http", "http2"] as const;
const ADMIN_KEYS = ["hostname", "port", "health_margin"] as const;
const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SITE_KEYS = ["names", "upstream", "deploy_hook", "connect_timeout", "response_header_timeout", "max_requests", "on_demand"] as const;

type Table = Record<string, unknown>;
/** Finds the line of `key` in the top level (`table` undefined), `[table]`, or the `index`-th `[[table]]`. */
type Locate = (table: string | undefined, index: number, key: string) => number | undefined;

/**
 * The field validator's source for one table of the file: a bad key is a {@link ConfigError}
 * `file:line: LABEL KEY must be EXPECTED`, in the table's own words for a key when `words` has them.
 */
function tableSource(at: (line: number | undefined, message: string) => ConfigError, where: Locate, table?: string, index = 0, label = "", words: Readonly<Record<string, string>> = {}): Source {
  return sourceOf(table ?? "", (error) => at(where(table, index, error.field), `${label}${error.field} must be ${words[error.field] ?? error.expected}`));
}

/**
 * Reads and checks the configuration file `file`.
 *
 * @throws {ConfigError} when it cannot be read, or naming the line and the key at fault
 */
export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  return parseServeConfig(text, file);
}

/**
 * Reads and checks a configuration's text; `file` names it in errors.
 *
 * @example parseServeConfig(`directory = "letsencrypt"\n[[site]]\nnames = ["example.net"]\nupstream = "http://127.0.0.1:8080"\n`, "serve.toml")
 * @throws {ConfigError} naming the file, the line and the key at fault
 */
export function parseServeConfig(text: string, file: string): ServeConfig {
  const at = (line: number | undefined, message: string) => new ConfigError(`${file}${line ? `:${line}` : ""}: ${message}`);
  let root: Table;
  try {
    root = Bun.TOML.parse(text) as Table;
  } catch (error) {
    const message = (error as Error).message.replace(/^TOML Parse error: /, "");
    throw at(lineOfParseError(text, message), `not valid TOML: ${message}`);
  }
  const where = locator(text);
  const top = tableSource(at, where);
  unknownKeys(root, TOP_KEYS, (key) => at(where(undefined, 0, key), `unknown key "${key}" (allowed: ${TOP_KEYS.join(", ")})`));
  const tableAt = (key: string, written: string) => () => at(where(undefined, 0, key), `${key} must be a table, written ${written}`);
  const listen = tableOf(root.listen ?? {}, tableAt("listen", "[listen]"));
  unknownKeys(listen, LISTEN_KEYS, (key) => at(where("listen", 0, key), `unknown key "${key}" in [listen] (allowed: ${LISTEN_KEYS.join(", ")})`));
  const admin = root.admin === undefined ? undefined : tableOf(root.admin, tableAt("admin", "[admin]"));
  if (admin) unknownKeys(admin, ADMIN_KEYS, (key) => at(where("admin", 0, key), `unknown key "${key}" in [admin] (allowed: ${ADMIN_KEYS.join(", ")})`));
  const directory = root.directory;
  if (typeof directory !== "string") throw at(where(undefined, 0, "directory"), `"directory" must be the CA's directory URL or a preset name, e.g. directory = "letsencrypt"`);
  const allowInsecureHttp = field.optionalBoolean(root, "allow_insecure_http", top) ?? false;
  let directoryUrl: string;
  try {
    directoryUrl = resolveDirectory(directory, { allowInsecureHttp }).directoryUrl;
  } catch (error) {
    throw at(where(undefined, 0, "directory"), `directory: ${(error as Error).message}`);
  }
  const issuers = issuersOf(root.issuer, allowInsecureHttp, (index, key, message) => at(where("issuer", index, key), `issuer ${index + 1}: ${message}`));
  const challenge = field.optionalOneOf(root, "challenge", top, ["http-01", "dns-01", "tls-alpn-01"] as const) ?? "http-01";
  const dns = dnsOf(root, challenge, at, where);
  const keyType: KeyType = field.optionalOneOf(root, "key_type", top, KEY_TYPES) ?? "ec256";
  const sites = root.site === undefined ? [] : tablesOf(root.site, tableAt("site", "[[site]]"));
  if (sites.length === 0) throw at(undefined, `no [[site]]: list at least one, e.g. [[site]] names = ["example.net"] upstream = "http://127.0.0.1:8080"`);
  const seen = new Map<string, number>();
  const trustedProxies = stringList(root.trusted_proxies, () => at(where(undefined, 0, "trusted_proxies"), `trusted_proxies must be a list of CIDR ranges, e.g. ["10.0.0.0/8", "fd00::/8"]`));
  try {
    cidrMatcher(trustedProxies);
  } catch (error) {
    throw at(where(undefined, 0, "trusted_proxies"), `trusted_proxies: ${(error as Error).message}`);
  }
  const accessLog = field.optionalBoolean(root, "access_log", top) ?? false;
  const listenAt = tableSource(at, where, "listen");
  const adminAt = admin && tableSource(at, where, "admin", 0, "[admin] ", { port: "a port number, e.g. port = 9180" });
  const patternOwner = new Map<string, number>();
  /** An `on_demand = true` site: its names are patterns of names to obtain during their handshake (none: any name). */
  const onDemandSite = (site: Table, index: number, line: (key: string) => number | undefined): OnDemandSiteConfig => {
    const fail = (key: string, message: string) => at(line(key), `site ${index + 1}: ${message}`);
    if (site.deploy_hook !== undefined) throw fail("deploy_hook", "deploy_hook is not for an on_demand site (its certificates are served, not deployed)");
    const upstream = site.upstream;
    if (typeof upstream !== "string" || !/^https?:\/\//.test(upstream) || !URL.canParse(upstream)) throw fail("upstream", "an on_demand site needs an upstream, an http:// or https:// URL");
    const names = stringList(site.names, () => fail("names", `names must be a list of names or *.name patterns (leave it out for any name [on_demand] ask allows)`));
    const patterns = site.names === undefined ? ["*"] : names.map((name) => onDemandPattern(name, (message) => fail("names", message)));
    if (patterns.length === 0) throw fail("names", "names is empty: list names or *.name patterns, or leave it out for any name [on_demand] ask allows");
    for (const pattern of patterns) {
      const earlier = patternOwner.get(pattern) ?? seen.get(pattern);
      if (earlier !== undefined) throw fail("names", `"${pattern === "*" ? "any name (no names)" : pattern}" is already in site ${earlier + 1}`);
      patternOwner.set(pattern, index);
    }
    return { patterns, upstream: upstream.replace(/\/$/, ""), ...proxyLimits(site, true, fail) };
  };
  const parsedSites = sites.map((site, index): SiteConfig | OnDemandSiteConfig => {
    const line = (key: string) => where("site", index, key);
    unknownKeys(site, SITE_KEYS, (key) => at(line(key), `unknown key "${key}" in site ${index + 1} (allowed: ${SITE_KEYS.join(", ")})`));
    if (site.on_demand !== undefined && typeof site.on_demand !== "boolean") throw at(line("on_demand"), `site ${index + 1}: on_demand must be true or false`);
    if (site.on_demand === true) return onDemandSite(site, index, line);
    const siteAt = tableSource(at, where, "site", index, `site ${index + 1}: `, { names: "a list of names", deploy_hook: "a command" });
    const names = field.optionalStrings(site, "names", siteAt) ?? [];
    if (names.length === 0) throw at(line("names"), `site ${index + 1}: names is missing or empty`);
    let identifiers: Identifier[];
    try {
      identifiers = normalizeIdentifiers(names, { challenge });
    } catch (error) {
      throw at(line("names"), `site ${index + 1}: ${(error as Error).message}`);
    }
    for (const identifier of identifiers) {
      const earlier = seen.get(identifier.value);
      if (earlier !== undefined) throw at(line("names"), `site ${index + 1}: "${identifier.value}" is already in site ${earlier + 1}`);
      seen.set(identifier.value, index);
    }
    const upstream = field.optionalUrl(site, "upstream", siteAt, ["http:", "https:"]);
    return {
      names: identifiers,
      ...optional("upstream", upstream?.replace(/\/$/, "")),
      ...optional("deployHook", field.optionalString(site, "deploy_hook", siteAt)),
      ...proxyLimits(site, upstream !== undefined, (key, message) => at(line(key), `site ${index + 1}: ${message}`)),
    };
  });
  const onDemandLine = where("site", Math.max(0, sites.findIndex((site) => site.on_demand === true)), "on_demand");
  const onDemandHeader = text.split("\n").findIndex((candidate) => /^\s*\[\s*on_demand\s*\]\s*(#.*)?$/.test(candidate)) + 1 || undefined;
  const onDemand = onDemandOf(root.on_demand, parsedSites.flatMap((site) => "patterns" in site ? [site] : []), { site: onDemandLine, header: onDemandHeader }, at, where);
  return {
    directoryUrl,
    allowInsecureHttp,
    ...optional("ca", field.optionalString(root, "ca", top)),
    issuers,
    ...optional("store", field.optionalString(root, "store", top)),
    ...optional("cache", field.optionalString(root, "cache", top)),
    contact: field.optionalStrings(root, "contact", top) ?? [],
    keyType,
    challenge,
    ...(dns ? { dns } : {}),
    listen: {
      hostname: field.optionalString(listen, "hostname", listenAt) ?? "0.0.0.0",
      https: field.optionalPort(listen, "https", listenAt) ?? 443,
      http: field.optionalPort(listen, "http", listenAt) ?? 80,
      http2: field.optionalBoolean(listen, "http2", listenAt) ?? true,
    },
    ...(admin && adminAt ? {
      admin: {
        hostname: field.optionalString(admin, "hostname", adminAt) ?? "127.0.0.1",
        port: field.port(admin, "port", adminAt),
        healthMarginMs: duration(admin.health_margin ?? "7d", () => at(where("admin", 0, "health_margin"), `[admin] health_margin must be a duration such as "7d", "12h", "30m" or "45s"`)),
      },
    } : {}),
    sites: parsedSites.flatMap((site) => "patterns" in site ? [] : [site]),
    ...(onDemand ? { onDemand } : {}),
    trustedProxies,
    accessLog,
  };
}

type Fail = (key: string, message: string) => ConfigError;

/** A site's proxy limits (seconds in the file, milliseconds here), each checked. */
function proxyLimits(site: Table, hasUpstream: boolean, fail: Fail): Pick<SiteConfig, "connectTimeoutMs" | "responseHeaderTimeoutMs" | "maxRequests"> {
  const limit = (key: "connect_timeout" | "response_header_timeout" | "max_requests", what: string, scale: number, integer = false) => {
    const value = site[key];
    if (value === undefined) return undefined;
    if (!hasUpstream) throw fail(key, `${key} applies only to a site with an upstream`);
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) throw fail(key, `${key} must be ${what}`);
    return Math.max(1, Math.round(value * scale));
  };
  const connectTimeoutMs = limit("connect_timeout", "a number of seconds above 0, e.g. connect_timeout = 10", 1000);
  const responseHeaderTimeoutMs = limit("response_header_timeout", "a number of seconds above 0, e.g. response_header_timeout = 60", 1000);
  const maxRequests = limit("max_requests", "a whole number above 0, e.g. max_requests = 64", 1, true);
  return {
    ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    ...(responseHeaderTimeoutMs !== undefined ? { responseHeaderTimeoutMs } : {}),
    ...(maxRequests !== undefined ? { maxRequests } : {}),
  };
}

/** A name or `*.name` of an on_demand site, lowercase and in its ASCII form; never an IP address. */
function onDemandPattern(name: string, fail: (message: string) => ConfigError): string {
  const wildcard = name.startsWith("*.");
  let identifier: Identifier;
  try {
    [identifier] = normalizeIdentifiers([wildcard ? name.slice(2) : name], { challenge: "http-01" }) as [Identifier];
  } catch (error) {
    throw fail((error as Error).message);
  }
  if (identifier.type !== "dns") throw fail(`"${name}" is an IP address: on-demand certificates are for DNS names`);
  return wildcard ? `*.${identifier.value}` : identifier.value;
}

/**
 * `[on_demand]`: required by, and only with, `on_demand = true` sites. Its `ask` URL is what keeps
 * strangers from making the daemon order certificates for any name they send, so it is not optional.
 */
function onDemandOf(value: unknown, sites: readonly OnDemandSiteConfig[], lines: { readonly site: number | undefined; readonly header: number | undefined }, at: (line: number | undefined, message: string) => ConfigError, where: (table: string | undefined, index: number, key: string) => number | undefined): OnDemandConfig | undefined {
  if (value === undefined) {
    if (sites.length > 0) throw at(lines.site, `on_demand = true needs [on_demand] with ask = "http://..." (an endpoint that answers 2xx for the names you allow): without it anyone could make you order certificates`);
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw at(where(undefined, 0, "on_demand"), "on_demand must be a table, written [on_demand]");
  const table = value as Table;
  unknownKeys(table, ON_DEMAND_KEYS, (key) => at(where("on_demand", 0, key), `unknown key "${key}" in [on_demand] (allowed: ${ON_DEMAND_KEYS.join(", ")})`));
  const ask = table.ask;
  if (ask === undefined) throw at(lines.header, `[on_demand] needs ask = "http://..." (an endpoint that answers 2xx for the names you allow): without it anyone could make you order certificates`);
  if (typeof ask !== "string" || !/^https?:\/\//i.test(ask) || !URL.canParse(ask)) throw at(where("on_demand", 0, "ask"), `[on_demand] ask must be an http:// or https:// URL, e.g. ask = "http://127.0.0.1:9123/check"`);
  const maxPerMinute = table.max_per_minute ?? 10;
  if (typeof maxPerMinute !== "number" || !Number.isInteger(maxPerMinute) || maxPerMinute < 1) throw at(where("on_demand", 0, "max_per_minute"), "[on_demand] max_per_minute must be a whole number above 0, e.g. max_per_minute = 10");
  if (sites.length === 0) throw at(lines.header, `[on_demand] serves no site: add on_demand = true to the [[site]] whose upstream answers those names`);
  return { ask, maxPerMinute, sites };
}

/** dns-01's means: `[rfc2136]` or `dns_hook`, exactly one, and only with `challenge = "dns-01"`. */
function dnsOf(root: Table, challenge: string, at: (line: number | undefined, message: string) => ConfigError, where: Locate): ServeConfig["dns"] {
  const rfc2136 = root.rfc2136 === undefined ? undefined : tableOf(root.rfc2136, () => at(where(undefined, 0, "rfc2136"), "rfc2136 must be a table, written [rfc2136]"));
  const hook = root.dns_hook;
  if (challenge !== "dns-01") {
    if (rfc2136 || hook !== undefined) throw at(where(undefined, 0, rfc2136 ? "rfc2136" : "dns_hook"), `[rfc2136] and dns_hook are for challenge = "dns-01"`);
    return undefined;
  }
  if ((rfc2136 === undefined) === (hook === undefined)) throw at(where(undefined, 0, "challenge"), `challenge = "dns-01" needs exactly one of [rfc2136] (your name server) or dns_hook (a command)`);
  if (hook !== undefined) {
    if (typeof hook !== "string" || hook.trim() === "") throw at(where(undefined, 0, "dns_hook"), "dns_hook must be a command");
    return { kind: "hook", command: hook };
  }
  unknownKeys(rfc2136!, RFC2136_KEYS, (key) => at(where("rfc2136", 0, key), `unknown key "${key}" in [rfc2136] (allowed: ${RFC2136_KEYS.join(", ")})`));
  const table = tableSource(at, where, "rfc2136", 0, "[rfc2136] ", { server: `the name server's address, e.g. server = "192.0.2.53"`, tsig_key_file: "a path" });
  return {
    kind: "rfc2136",
    server: field.string(rfc2136!, "server", table),
    port: field.optionalPort(rfc2136!, "port", table) ?? 53,
    ...optional("tsigKeyFile", field.optionalString(rfc2136!, "tsig_key_file", table)),
  };
}

/**
 * The `[[issuer]]` tables, each checked: a directory, an optional roots file, EAB as a pair.
 *
 * @throws {ConfigError} from `fail`, naming the issuer and the key
 */
function issuersOf(value: unknown, allowInsecureHttp: boolean, fail: (index: number, key: string, message: string) => Error): IssuerConfig[] {
  if (value === undefined) return [];
  return tablesOf(value, () => fail(0, "issuer", `issuer must be tables, written [[issuer]]`)).map((issuer, index) => {
    unknownKeys(issuer, ISSUER_KEYS, (key) => fail(index, key, `unknown key "${key}" (allowed: ${ISSUER_KEYS.join(", ")})`));
    if (typeof issuer.directory !== "string") throw fail(index, "directory", `"directory" must be the CA's directory URL or a preset name, e.g. directory = "zerossl"`);
    let directoryUrl: string;
    try {
      directoryUrl = resolveDirectory(issuer.directory, { allowInsecureHttp }).directoryUrl;
    } catch (error) {
      throw fail(index, "directory", `directory: ${(error as Error).message}`);
    }
    const words: Readonly<Record<string, string>> = { ca: "the path of a file of PEM roots", eab_kid: "the string the CA gave", eab_hmac_key: "the string the CA gave" };
    const table = sourceOf("issuer", (error) => fail(index, error.field, `${error.field} must be ${words[error.field] ?? error.expected}`));
    const ca = field.optionalString(issuer, "ca", table);
    const kid = field.optionalString(issuer, "eab_kid", table);
    const hmacKey = field.optionalString(issuer, "eab_hmac_key", table);
    if ((kid === undefined) !== (hmacKey === undefined)) {
      throw fail(index, kid === undefined ? "eab_hmac_key" : "eab_kid", "eab_kid and eab_hmac_key go together: give both, or neither");
    }
    return {
      directoryUrl,
      ...optional("ca", ca),
      ...(kid !== undefined && hmacKey !== undefined ? { eab: { kid, hmacKey } } : {}),
    };
  });
}

function unknownKeys(table: Table, allowed: readonly string[], fail: (key: string) => Error): void {
  const unknown = Object.keys(table).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw fail(unknown);
}

function stringList(value: unknown, fail: () => Error): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) throw fail();
  return value;
}

/** `"7d"`, `"12h"`, `"30m"`, `"45s"` in milliseconds. */
function duration(value: unknown, fail: () => Error): number {
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim()) : null;
  if (!match) throw fail();
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}

/** `{ [key]: value }`, or nothing for a value not given: optional keys stay absent. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Finds the line of `key` in the top level, in `[table]`, or in the `index`-th `[[table]]`:
 * Bun's TOML parser reports no positions, so the text is searched.
 */
function locator(text: string): (table: string | undefined, index: number, key: string) => number | undefined {
  const lines = text.split("\n");
  return (table, index, key) => {
    let start = 0;
    if (table !== undefined) {
      const headers = lines.flatMap((line, number) => (new RegExp(`^\\s*\\[\\[?\\s*${table}\\s*\\]\\]?\\s*(#.*)?$`).test(line) ? [number] : []));
      if (headers[index] === undefined) return undefined;
      start = headers[index]! + 1;
    }
    for (let number = start; number < lines.length; number++) {
      if (/^\s*\[/.test(lines[number]!)) break; // the next table
      if (new RegExp(`^\\s*"?${key}"?\\s*=`).test(lines[number]!)) return number + 1;
    }
    return undefined;
  };
}

/** The first line at which the text, cut there, fails with the same message: where the problem starts. */
function lineOfParseError(text: string, message: string): number | undefined {
  const lines = text.split("\n");
  for (let count = 1; count <= lines.length; count++) {
    try {
      Bun.TOML.parse(lines.slice(0, count).join("\n"));
    } catch (error) {
      if ((error as Error).message.endsWith(message)) return count;
    }
  }
  return undefined;
}

/** A TOML table (`[name]`), else what `refuse` makes. */
function tableOf(value: unknown, refuse: () => Error): Table {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) throw refuse();
  return value as Table;
}

/** An array of TOML tables (`[[name]]`), else what `refuse` makes. */
function tablesOf(value: unknown, refuse: () => Error): Table[] {
  if (!Array.isArray(value)) throw refuse();
  return value.map((item: unknown) => tableOf(item, refuse));
}
