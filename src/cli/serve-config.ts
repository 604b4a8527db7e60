/**
 * The `serve` daemon's configuration: TOML, read with Bun's built-in parser, every key checked.
 * Errors name the file, the line and the key, so that a typo is found before anything starts
 * (and, on SIGHUP, before the running configuration is replaced).
 */
import { normalizeIdentifiers, resolveDirectory, type Identifier } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import { KEY_TYPES, type KeyType } from "../jose/index.ts";
import { cidrMatcher } from "../servers/index.ts";

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
   * `COMMAND present|cleanup NAME VALUE`). dns-01 allows wildcard names.
   */
  readonly challenge: "http-01" | "dns-01";
  readonly dns?: { readonly kind: "rfc2136"; readonly server: string; readonly port: number; readonly tsigKeyFile?: string } | { readonly kind: "hook"; readonly command: string };
  /** `http2`: offer HTTP/2 by ALPN on the HTTPS port (default true; HTTP/1.1 for clients that do not ask for it). */
  readonly listen: { readonly hostname: string; readonly https: number; readonly http: number; readonly http2: boolean };
  /** `[admin]`: `/metrics` and `/healthz` on their own address; absent: off. */
  readonly admin?: { readonly hostname: string; readonly port: number; readonly healthMarginMs: number };
  readonly sites: readonly SiteConfig[];
  /** Peers (CIDR ranges) whose X-Forwarded-* and Forwarded headers the proxy believes. */
  readonly trustedProxies: readonly string[];
  /** One JSON line per proxied request on standard output. */
  readonly accessLog: boolean;
}

/** The configuration is wrong: `file:line: what`. */
export class ConfigError extends BunAcmeError {
  declare readonly code: "ERR_CONFIG";
  constructor(message: string) {
    super("ERR_CONFIG", message);
    this.name = "ConfigError";
  }
}

const TOP_KEYS = ["directory", "allow_insecure_http", "ca", "store", "cache", "contact", "key_type", "trusted_proxies", "access_log", "challenge", "rfc2136", "dns_hook", "listen", "admin", "issuer", "site"] as const;
const RFC2136_KEYS = ["server", "port", "tsig_key_file"] as const;
const ISSUER_KEYS = ["directory", "ca", "eab_kid", "eab_hmac_key"] as const;
const LISTEN_KEYS = ["hostname", "https", "http", "http2"] as const;
const ADMIN_KEYS = ["hostname", "port", "health_margin"] as const;
const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const SITE_KEYS = ["names", "upstream", "deploy_hook", "connect_timeout", "response_header_timeout", "max_requests"] as const;

type Table = Record<string, unknown>;

/**
 * Reads and checks a configuration.
 *
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
  unknownKeys(root, TOP_KEYS, (key) => at(where(undefined, 0, key), `unknown key "${key}" (allowed: ${TOP_KEYS.join(", ")})`));
  const listen = (root.listen ?? {}) as Table;
  unknownKeys(listen, LISTEN_KEYS, (key) => at(where("listen", 0, key), `unknown key "${key}" in [listen] (allowed: ${LISTEN_KEYS.join(", ")})`));
  const admin = root.admin === undefined ? undefined : (root.admin as Table);
  if (admin) unknownKeys(admin, ADMIN_KEYS, (key) => at(where("admin", 0, key), `unknown key "${key}" in [admin] (allowed: ${ADMIN_KEYS.join(", ")})`));
  const directory = root.directory;
  if (typeof directory !== "string") throw at(where(undefined, 0, "directory"), `"directory" must be the CA's directory URL or a preset name, e.g. directory = "letsencrypt"`);
  const allowInsecureHttp = root.allow_insecure_http === true;
  let directoryUrl: string;
  try {
    directoryUrl = resolveDirectory(directory, { allowInsecureHttp }).directoryUrl;
  } catch (error) {
    throw at(where(undefined, 0, "directory"), `directory: ${(error as Error).message}`);
  }
  const issuers = issuersOf(root.issuer, allowInsecureHttp, (index, key, message) => at(where("issuer", index, key), `issuer ${index + 1}: ${message}`));
  const keyType = (root.key_type ?? "ec256") as KeyType;
  const challenge = root.challenge ?? "http-01";
  if (challenge !== "http-01" && challenge !== "dns-01") throw at(where(undefined, 0, "challenge"), `challenge must be "http-01" or "dns-01"`);
  const dns = dnsOf(root, challenge, at, where);
  if (!KEY_TYPES.includes(keyType)) throw at(where(undefined, 0, "key_type"), `key_type must be one of ${KEY_TYPES.join(", ")}`);
  const sites = Array.isArray(root.site) ? (root.site as Table[]) : [];
  if (sites.length === 0) throw at(undefined, `no [[site]]: list at least one, e.g. [[site]] names = ["example.net"] upstream = "http://127.0.0.1:8080"`);
  const seen = new Map<string, number>();
  const trustedProxies = stringList(root.trusted_proxies, () => at(where(undefined, 0, "trusted_proxies"), `trusted_proxies must be a list of CIDR ranges, e.g. ["10.0.0.0/8", "fd00::/8"]`));
  try {
    cidrMatcher(trustedProxies);
  } catch (error) {
    throw at(where(undefined, 0, "trusted_proxies"), `trusted_proxies: ${(error as Error).message}`);
  }
  if (root.access_log !== undefined && typeof root.access_log !== "boolean") throw at(where(undefined, 0, "access_log"), "access_log must be true or false");
  return {
    directoryUrl,
    allowInsecureHttp,
    ...(typeof root.ca === "string" ? { ca: root.ca } : {}),
    issuers,
    ...(typeof root.store === "string" ? { store: root.store } : {}),
    ...(typeof root.cache === "string" ? { cache: root.cache } : {}),
    contact: stringList(root.contact, () => at(where(undefined, 0, "contact"), "contact must be a list of strings")),
    keyType,
    challenge,
    ...(dns ? { dns } : {}),
    listen: {
      hostname: typeof listen.hostname === "string" ? listen.hostname : "0.0.0.0",
      https: port(listen.https ?? 443, () => at(where("listen", 0, "https"), "https must be a port number")),
      http: port(listen.http ?? 80, () => at(where("listen", 0, "http"), "http must be a port number")),
      http2: flag(listen.http2 ?? true, () => at(where("listen", 0, "http2"), "http2 must be true or false")),
    },
    ...(admin ? {
      admin: {
        hostname: typeof admin.hostname === "string" ? admin.hostname : "127.0.0.1",
        port: port(admin.port, () => at(where("admin", 0, "port"), "[admin] port must be a port number, e.g. port = 9180")),
        healthMarginMs: duration(admin.health_margin ?? "7d", () => at(where("admin", 0, "health_margin"), `[admin] health_margin must be a duration such as "7d", "12h", "30m" or "45s"`)),
      },
    } : {}),
    sites: sites.map((site, index) => {
      const line = (key: string) => where("site", index, key);
      unknownKeys(site, SITE_KEYS, (key) => at(line(key), `unknown key "${key}" in site ${index + 1} (allowed: ${SITE_KEYS.join(", ")})`));
      const names = stringList(site.names, () => at(line("names"), `site ${index + 1}: names must be a list of names`));
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
      const upstream = site.upstream;
      if (upstream !== undefined && (typeof upstream !== "string" || !/^https?:\/\//.test(upstream) || !URL.canParse(upstream))) {
        throw at(line("upstream"), `site ${index + 1}: upstream must be an http:// or https:// URL`);
      }
      if (site.deploy_hook !== undefined && typeof site.deploy_hook !== "string") throw at(line("deploy_hook"), `site ${index + 1}: deploy_hook must be a command`);
      const limit = (key: "connect_timeout" | "response_header_timeout" | "max_requests", what: string, scale: number, integer = false) => {
        const value = site[key];
        if (value === undefined) return undefined;
        if (upstream === undefined) throw at(line(key), `site ${index + 1}: ${key} applies only to a site with an upstream`);
        if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) throw at(line(key), `site ${index + 1}: ${key} must be ${what}`);
        return Math.max(1, Math.round(value * scale));
      };
      const connectTimeoutMs = limit("connect_timeout", "a number of seconds above 0, e.g. connect_timeout = 10", 1000);
      const responseHeaderTimeoutMs = limit("response_header_timeout", "a number of seconds above 0, e.g. response_header_timeout = 60", 1000);
      const maxRequests = limit("max_requests", "a whole number above 0, e.g. max_requests = 64", 1, true);
      return {
        names: identifiers,
        ...(typeof upstream === "string" ? { upstream: upstream.replace(/\/$/, "") } : {}),
        ...(typeof site.deploy_hook === "string" ? { deployHook: site.deploy_hook } : {}),
        ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
        ...(responseHeaderTimeoutMs !== undefined ? { responseHeaderTimeoutMs } : {}),
        ...(maxRequests !== undefined ? { maxRequests } : {}),
      };
    }),
    trustedProxies,
    accessLog: root.access_log === true,
  };
}

/** dns-01's means: `[rfc2136]` or `dns_hook`, exactly one, and only with `challenge = "dns-01"`. */
function dnsOf(root: Table, challenge: string, at: (line: number | undefined, message: string) => ConfigError, where: (table: string | undefined, index: number, key: string) => number | undefined): ServeConfig["dns"] {
  const rfc2136 = root.rfc2136 === undefined ? undefined : (root.rfc2136 as Table);
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
  if (typeof rfc2136!.server !== "string") throw at(where("rfc2136", 0, "server"), `[rfc2136] server must be the name server's address, e.g. server = "192.0.2.53"`);
  if (rfc2136!.tsig_key_file !== undefined && typeof rfc2136!.tsig_key_file !== "string") throw at(where("rfc2136", 0, "tsig_key_file"), "[rfc2136] tsig_key_file must be a path");
  return {
    kind: "rfc2136",
    server: rfc2136!.server,
    port: port(rfc2136!.port ?? 53, () => at(where("rfc2136", 0, "port"), "[rfc2136] port must be a port number")),
    ...(typeof rfc2136!.tsig_key_file === "string" ? { tsigKeyFile: rfc2136!.tsig_key_file } : {}),
  };
}

/**
 * The `[[issuer]]` tables, each checked: a directory, an optional roots file, EAB as a pair.
 *
 * @throws {ConfigError} from `fail`, naming the issuer and the key
 */
function issuersOf(value: unknown, allowInsecureHttp: boolean, fail: (index: number, key: string, message: string) => Error): IssuerConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw fail(0, "issuer", `issuer must be tables, written [[issuer]]`);
  return (value as Table[]).map((issuer, index) => {
    unknownKeys(issuer, ISSUER_KEYS, (key) => fail(index, key, `unknown key "${key}" (allowed: ${ISSUER_KEYS.join(", ")})`));
    if (typeof issuer.directory !== "string") throw fail(index, "directory", `"directory" must be the CA's directory URL or a preset name, e.g. directory = "zerossl"`);
    let directoryUrl: string;
    try {
      directoryUrl = resolveDirectory(issuer.directory, { allowInsecureHttp }).directoryUrl;
    } catch (error) {
      throw fail(index, "directory", `directory: ${(error as Error).message}`);
    }
    if (issuer.ca !== undefined && typeof issuer.ca !== "string") throw fail(index, "ca", "ca must be the path of a file of PEM roots");
    for (const key of ["eab_kid", "eab_hmac_key"] as const) {
      if (issuer[key] !== undefined && (typeof issuer[key] !== "string" || issuer[key] === "")) throw fail(index, key, `${key} must be the string the CA gave`);
    }
    if ((issuer.eab_kid === undefined) !== (issuer.eab_hmac_key === undefined)) {
      throw fail(index, issuer.eab_kid === undefined ? "eab_hmac_key" : "eab_kid", "eab_kid and eab_hmac_key go together: give both, or neither");
    }
    return {
      directoryUrl,
      ...(typeof issuer.ca === "string" ? { ca: issuer.ca } : {}),
      ...(typeof issuer.eab_kid === "string" ? { eab: { kid: issuer.eab_kid, hmacKey: issuer.eab_hmac_key as string } } : {}),
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

function flag(value: unknown, fail: () => Error): boolean {
  if (typeof value !== "boolean") throw fail();
  return value;
}

function port(value: unknown, fail: () => Error): number {
  if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) throw fail();
  return value as number;
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
