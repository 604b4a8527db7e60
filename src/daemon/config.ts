/**
 * The daemon's configuration (`serve --config`): TOML, read with Bun's built-in parser, every key checked.
 * Errors name the file, the line and the key, so that a typo is found before anything starts
 * (and, on SIGHUP, before the running configuration is replaced).
 */
import { readFileSync } from "node:fs";
import { KEY_TYPES, type KeyType } from "../jose/index.ts";
import { field } from "../validate/index.ts";
import type { ServeConfig } from "./config-types.ts";
import { adminOf, caOf, dnsOf, listenOf, sectionOf, trustedProxiesOf } from "./config-sections.ts";
import { siteTablesOf, sitesOf } from "./config-sites.ts";
import { ConfigError, configDocument, keyError, optional, tableSource, unknownKeys } from "./config-text.ts";

export { ConfigError } from "./config-text.ts";

export type { IssuerConfig, OnDemandConfig, OnDemandSiteConfig, ServeConfig, SiteConfig } from "./config-types.ts";

const TOP_KEYS = ["directory", "allow_insecure_http", "ca", "store", "cache", "contact", "key_type", "trusted_proxies", "access_log", "challenge", "rfc2136", "dns_hook", "listen", "admin", "issuer", "site", "on_demand"] as const;
const LISTEN_KEYS = ["hostname", "https", "http", "http2"] as const;
const ADMIN_KEYS = ["hostname", "port", "health_margin"] as const;

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
 * Reads and checks a configuration's text; `file` names it in errors. The checks run in the
 * file's order of importance (keys, tables, the CA, the challenge, the sites), so the first
 * mistake reported is the same however many there are.
 *
 * @example parseServeConfig(`directory = "letsencrypt"\n[[site]]\nnames = ["example.net"]\nupstream = "http://127.0.0.1:8080"\n`, "serve.toml")
 * @throws {ConfigError} naming the file, the line and the key at fault
 */
export function parseServeConfig(text: string, file: string): ServeConfig {
  const doc = configDocument(text, file);
  const { root } = doc;
  const top = tableSource(doc);
  unknownKeys(root, TOP_KEYS, (key) => keyError(doc, undefined, 0, key, `unknown key "${key}" (allowed: ${TOP_KEYS.join(", ")})`));
  const listen = sectionOf(doc, "listen", LISTEN_KEYS) ?? {};
  const admin = sectionOf(doc, "admin", ADMIN_KEYS);
  const { directoryUrl, allowInsecureHttp, issuers } = caOf(doc);
  const challenge = field.optionalOneOf(root, "challenge", top, ["http-01", "dns-01", "tls-alpn-01"] as const) ?? "http-01";
  const dns = dnsOf(doc, challenge);
  const keyType: KeyType = field.optionalOneOf(root, "key_type", top, KEY_TYPES) ?? "ec256";
  const siteTables = siteTablesOf(doc);
  const trustedProxies = trustedProxiesOf(doc);
  const accessLog = field.optionalBoolean(root, "access_log", top) ?? false;
  const { sites, onDemand } = sitesOf(doc, siteTables, challenge);
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
    listen: listenOf(doc, listen),
    ...(admin ? { admin: adminOf(doc, admin) } : {}),
    sites,
    ...(onDemand ? { onDemand } : {}),
    trustedProxies,
    accessLog,
  };
}
