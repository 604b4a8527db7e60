/**
 * The configuration's sections other than the sites: the CA (`directory`, `[[issuer]]`), how
 * dns-01 is answered (`[rfc2136]`, `dns_hook`), `[listen]`, `[admin]` and `trusted_proxies`.
 * Each reader checks its keys and throws a {@link ConfigError} naming the line.
 */
import { resolveDirectory } from "../acme/index.ts";
import { cidrMatcher } from "../servers/index.ts";
import { field, sourceOf } from "../validate/index.ts";
import type { IssuerConfig, ServeConfig } from "./config-types.ts";
import { keyError, optional, tableOf, tablesOf, tableSource, unknownKeys, type ConfigDocument, type Table } from "./config-text.ts";

const RFC2136_KEYS = ["server", "port", "tsig_key_file"] as const;
const ISSUER_KEYS = ["directory", "ca", "eab_kid", "eab_hmac_key"] as const;
const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A top-level table such as `[listen]` with only `allowed` keys; undefined when absent.
 *
 * @throws {ConfigError} for a value that is not a table, or an unknown key in it
 */
export function sectionOf(doc: ConfigDocument, name: string, allowed: readonly string[]): Table | undefined {
  const value = doc.root[name];
  if (value === undefined) return undefined;
  const table = tableOf(value, () => keyError(doc, undefined, 0, name, `${name} must be a table, written [${name}]`));
  unknownKeys(table, allowed, (key) => keyError(doc, name, 0, key, `unknown key "${key}" in [${name}] (allowed: ${allowed.join(", ")})`));
  return table;
}

/** A `directory` value (a URL or a preset name) as the directory's URL. @throws what `fail` makes */
function directoryUrlOf(directory: string, allowInsecureHttp: boolean, fail: (message: string) => Error): string {
  try {
    return resolveDirectory(directory, { allowInsecureHttp }).directoryUrl;
  } catch (error) {
    throw fail(`directory: ${(error as Error).message}`);
  }
}

/** The CA: `directory`, `allow_insecure_http`, and the `[[issuer]]` tables to fall back to. */
export function caOf(doc: ConfigDocument): Pick<ServeConfig, "directoryUrl" | "allowInsecureHttp" | "issuers"> {
  const directory = doc.root.directory;
  const fail = (message: string) => keyError(doc, undefined, 0, "directory", message);
  if (typeof directory !== "string") throw fail(`"directory" must be the CA's directory URL or a preset name, e.g. directory = "letsencrypt"`);
  const allowInsecureHttp = field.optionalBoolean(doc.root, "allow_insecure_http", tableSource(doc)) ?? false;
  const directoryUrl = directoryUrlOf(directory, allowInsecureHttp, fail);
  const issuers = issuersOf(doc.root.issuer, allowInsecureHttp, (index, key, message) => keyError(doc, "issuer", index, key, `issuer ${index + 1}: ${message}`));
  return { directoryUrl, allowInsecureHttp, issuers };
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
    const directoryUrl = directoryUrlOf(issuer.directory, allowInsecureHttp, (message) => fail(index, "directory", message));
    const words: Readonly<Record<string, string>> = { ca: "the path of a file of PEM roots", eab_kid: "the string the CA gave", eab_hmac_key: "the string the CA gave" };
    const table = sourceOf("issuer", (error) => fail(index, error.field, `${error.field} must be ${words[error.field] ?? error.expected}`));
    const ca = field.optionalString(issuer, "ca", table);
    const kid = field.optionalString(issuer, "eab_kid", table);
    const hmacKey = field.optionalString(issuer, "eab_hmac_key", table);
    if ((kid === undefined) !== (hmacKey === undefined)) {
      throw fail(index, kid === undefined ? "eab_hmac_key" : "eab_kid", "eab_kid and eab_hmac_key go together: give both, or neither");
    }
    return { directoryUrl, ...optional("ca", ca), ...(kid !== undefined && hmacKey !== undefined ? { eab: { kid, hmacKey } } : {}) };
  });
}

/** dns-01's means: `[rfc2136]` or `dns_hook`, exactly one, and only with `challenge = "dns-01"`. */
export function dnsOf(doc: ConfigDocument, challenge: ServeConfig["challenge"]): ServeConfig["dns"] {
  const { root } = doc;
  const rfc2136 = root.rfc2136 === undefined ? undefined : tableOf(root.rfc2136, () => keyError(doc, undefined, 0, "rfc2136", "rfc2136 must be a table, written [rfc2136]"));
  const hook = root.dns_hook;
  if (challenge !== "dns-01") {
    if (rfc2136 || hook !== undefined) throw keyError(doc, undefined, 0, rfc2136 ? "rfc2136" : "dns_hook", `[rfc2136] and dns_hook are for challenge = "dns-01"`);
    return undefined;
  }
  if ((rfc2136 === undefined) === (hook === undefined)) throw keyError(doc, undefined, 0, "challenge", `challenge = "dns-01" needs exactly one of [rfc2136] (your name server) or dns_hook (a command)`);
  if (hook !== undefined) {
    if (typeof hook !== "string" || hook.trim() === "") throw keyError(doc, undefined, 0, "dns_hook", "dns_hook must be a command");
    return { kind: "hook", command: hook };
  }
  unknownKeys(rfc2136!, RFC2136_KEYS, (key) => keyError(doc, "rfc2136", 0, key, `unknown key "${key}" in [rfc2136] (allowed: ${RFC2136_KEYS.join(", ")})`));
  const table = tableSource(doc, "rfc2136", 0, "[rfc2136] ", { server: `the name server's address, e.g. server = "192.0.2.53"`, tsig_key_file: "a path" });
  return {
    kind: "rfc2136",
    server: field.string(rfc2136!, "server", table),
    port: field.optionalPort(rfc2136!, "port", table) ?? 53,
    ...optional("tsigKeyFile", field.optionalString(rfc2136!, "tsig_key_file", table)),
  };
}

/** `[listen]`'s values, with their defaults (every address, ports 443 and 80, HTTP/2 offered). */
export function listenOf(doc: ConfigDocument, listen: Table): ServeConfig["listen"] {
  const where = tableSource(doc, "listen");
  return {
    hostname: field.optionalString(listen, "hostname", where) ?? "0.0.0.0",
    https: field.optionalPort(listen, "https", where) ?? 443,
    http: field.optionalPort(listen, "http", where) ?? 80,
    http2: field.optionalBoolean(listen, "http2", where) ?? true,
  };
}

/** `[admin]`'s values: loopback unless said, a port, and the health margin (default 7 days). */
export function adminOf(doc: ConfigDocument, admin: Table): NonNullable<ServeConfig["admin"]> {
  const where = tableSource(doc, "admin", 0, "[admin] ", { port: "a port number, e.g. port = 9180" });
  return {
    hostname: field.optionalString(admin, "hostname", where) ?? "127.0.0.1",
    port: field.port(admin, "port", where),
    healthMarginMs: duration(admin.health_margin ?? "7d", () => keyError(doc, "admin", 0, "health_margin", `[admin] health_margin must be a duration such as "7d", "12h", "30m" or "45s"`)),
  };
}

/** `trusted_proxies`: CIDR ranges, each checked. */
export function trustedProxiesOf(doc: ConfigDocument): readonly string[] {
  const ranges = field.optionalStrings(doc.root, "trusted_proxies", tableSource(doc, undefined, 0, "", { trusted_proxies: `a list of CIDR ranges, e.g. ["10.0.0.0/8", "fd00::/8"]` })) ?? [];
  try {
    cidrMatcher(ranges);
  } catch (error) {
    throw keyError(doc, undefined, 0, "trusted_proxies", `trusted_proxies: ${(error as Error).message}`);
  }
  return ranges;
}

/** `"7d"`, `"12h"`, `"30m"`, `"45s"` in milliseconds. */
function duration(value: unknown, fail: () => Error): number {
  const match = typeof value === "string" ? /^(\d+(?:\.\d+)?)([smhd])$/.exec(value.trim()) : null;
  if (!match) throw fail();
  return Number(match[1]) * DURATION_UNITS[match[2]!]!;
}
