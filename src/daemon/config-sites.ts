/**
 * The configuration's `[[site]]` tables and `[on_demand]`: each site's names (no name in two
 * sites), upstream, deploy hook and proxy limits; `on_demand = true` sites and the `ask` endpoint
 * that gates them. Each reader throws a {@link ConfigError} naming the line and the site.
 */
import { normalizeIdentifiers, type Identifier } from "../acme/index.ts";
import { field } from "../validate/index.ts";
import type { OnDemandConfig, OnDemandSiteConfig, ServeConfig, SiteConfig } from "./config-types.ts";
import { headerLine, keyError, optional, tablesOf, tableSource, unknownKeys, type ConfigDocument, type ConfigError, type Table } from "./config-text.ts";

const SITE_KEYS = ["names", "upstream", "deploy_hook", "deploy_hook_timeout", "connect_timeout", "response_header_timeout", "max_requests", "on_demand"] as const;
const ON_DEMAND_KEYS = ["ask", "max_per_minute"] as const;
const ASK_NEEDED = `ask = "http://..." (an endpoint that answers 2xx for the names you allow): without it anyone could make you order certificates`;

type Fail = (key: string, message: string) => ConfigError;

/** The `[[site]]` tables, at least one. @throws {ConfigError} */
export function siteTablesOf(doc: ConfigDocument): Table[] {
  const sites = doc.root.site === undefined ? [] : tablesOf(doc.root.site, () => keyError(doc, undefined, 0, "site", "site must be a table, written [[site]]"));
  if (sites.length === 0) throw doc.at(undefined, `no [[site]]: list at least one, e.g. [[site]] names = ["example.net"] upstream = "http://127.0.0.1:8080"`);
  return sites;
}

/** The sites, checked in order, and `[on_demand]` with the `on_demand = true` ones. @throws {ConfigError} */
export function sitesOf(doc: ConfigDocument, tables: readonly Table[], challenge: ServeConfig["challenge"]): { sites: SiteConfig[]; onDemand?: OnDemandConfig } {
  const owners = new SiteOwners();
  const parsed = tables.map((site, index): SiteConfig | OnDemandSiteConfig => {
    const fail: Fail = (key, message) => keyError(doc, "site", index, key, `site ${index + 1}: ${message}`);
    unknownKeys(site, SITE_KEYS, (key) => keyError(doc, "site", index, key, `unknown key "${key}" in site ${index + 1} (allowed: ${SITE_KEYS.join(", ")})`));
    if (site.on_demand !== undefined && typeof site.on_demand !== "boolean") throw fail("on_demand", "on_demand must be true or false");
    return site.on_demand === true ? onDemandSiteOf(doc, site, index, owners, fail) : listedSiteOf(doc, site, index, challenge, owners, fail);
  });
  const onDemandSites = parsed.flatMap((site) => "patterns" in site ? [site] : []);
  // Found only for an error: each search reads every line of the file (0.2 ms a site with 200 sites).
  const firstOnDemandLine = () => doc.where("site", Math.max(0, tables.findIndex((site) => site.on_demand === true)), "on_demand");
  const onDemand = onDemandOf(doc, onDemandSites, firstOnDemandLine);
  return { sites: parsed.flatMap((site) => "patterns" in site ? [] : [site]), ...(onDemand ? { onDemand } : {}) };
}

/** Which site each name and on-demand pattern is in: none may be in two. */
class SiteOwners {
  readonly names = new Map<string, number>();
  readonly patterns = new Map<string, number>();
}

/** A listed site: names obtained at start, an optional upstream (none: only kept renewed) and deploy hook. */
function listedSiteOf(doc: ConfigDocument, site: Table, index: number, challenge: ServeConfig["challenge"], owners: SiteOwners, fail: Fail): SiteConfig {
  const where = tableSource(doc, "site", index, `site ${index + 1}: `, { names: "a list of names", deploy_hook: "a command" });
  const names = field.optionalStrings(site, "names", where) ?? [];
  if (names.length === 0) throw fail("names", "names is missing or empty");
  let identifiers: Identifier[];
  try {
    identifiers = normalizeIdentifiers(names, { challenge });
  } catch (error) {
    throw fail("names", (error as Error).message);
  }
  for (const identifier of identifiers) {
    const earlier = owners.names.get(identifier.value);
    if (earlier !== undefined) throw fail("names", `"${identifier.value}" is already in site ${earlier + 1}`);
    owners.names.set(identifier.value, index);
  }
  const upstream = field.optionalUrl(site, "upstream", where, ["http:", "https:"]);
  return {
    names: identifiers,
    ...optional("upstream", upstream?.replace(/\/$/, "")),
    ...optional("deployHook", field.optionalString(site, "deploy_hook", where)),
    ...optional("deployHookTimeoutMs", deployHookTimeout(site, fail)),
    ...proxyLimits(site, upstream !== undefined, fail),
  };
}

/** An `on_demand = true` site: its names are patterns of names to obtain during their handshake (none: any name). */
function onDemandSiteOf(doc: ConfigDocument, site: Table, index: number, owners: SiteOwners, fail: Fail): OnDemandSiteConfig {
  for (const key of ["deploy_hook", "deploy_hook_timeout"] as const) {
    if (site[key] !== undefined) throw fail(key, `${key} is not for an on_demand site (its certificates are served, not deployed)`);
  }
  const upstream = site.upstream;
  if (typeof upstream !== "string" || !/^https?:\/\//.test(upstream) || !URL.canParse(upstream)) throw fail("upstream", "an on_demand site needs an upstream, an http:// or https:// URL");
  const where = tableSource(doc, "site", index, `site ${index + 1}: `, { names: "a list of names or *.name patterns (leave it out for any name [on_demand] ask allows)" });
  const names = field.optionalStrings(site, "names", where);
  const patterns = names === undefined ? ["*"] : names.map((name) => onDemandPattern(name, (message) => fail("names", message)));
  if (patterns.length === 0) throw fail("names", "names is empty: list names or *.name patterns, or leave it out for any name [on_demand] ask allows");
  for (const pattern of patterns) {
    const earlier = owners.patterns.get(pattern) ?? owners.names.get(pattern);
    if (earlier !== undefined) throw fail("names", `"${pattern === "*" ? "any name (no names)" : pattern}" is already in site ${earlier + 1}`);
    owners.patterns.set(pattern, index);
  }
  return { patterns, upstream: upstream.replace(/\/$/, ""), ...proxyLimits(site, true, fail) };
}

/** `deploy_hook_timeout`: seconds in the file, milliseconds here; only beside a `deploy_hook`. */
function deployHookTimeout(site: Table, fail: Fail): number | undefined {
  const value = site.deploy_hook_timeout;
  if (value === undefined) return undefined;
  if (site.deploy_hook === undefined) throw fail("deploy_hook_timeout", "deploy_hook_timeout applies only to a site with a deploy_hook");
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) throw fail("deploy_hook_timeout", "deploy_hook_timeout must be a number of seconds above 0, e.g. deploy_hook_timeout = 600");
  return Math.max(1, Math.round(value * 1000));
}

/** A site's proxy limits (seconds in the file, milliseconds here), each checked. */
function proxyLimits(site: Table, hasUpstream: boolean, fail: Fail): Pick<SiteConfig, "connectTimeoutMs" | "responseHeaderTimeoutMs" | "maxRequests"> {
  const limit = (key: "connect_timeout" | "response_header_timeout" | "max_requests", what: string, scale: number, integer = false) => {
    const value = site[key];
    if (value === undefined) return undefined;
    if (!hasUpstream) throw fail(key, `${key} applies only to a site with an upstream`);
    if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) throw fail(key, `${key} must be ${what}`);
    return Math.max(1, Math.round(value * scale));
  };
  return {
    ...optional("connectTimeoutMs", limit("connect_timeout", "a number of seconds above 0, e.g. connect_timeout = 10", 1000)),
    ...optional("responseHeaderTimeoutMs", limit("response_header_timeout", "a number of seconds above 0, e.g. response_header_timeout = 60", 1000)),
    ...optional("maxRequests", limit("max_requests", "a whole number above 0, e.g. max_requests = 64", 1, true)),
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
function onDemandOf(doc: ConfigDocument, sites: readonly OnDemandSiteConfig[], firstOnDemandLine: () => number | undefined): OnDemandConfig | undefined {
  const value = doc.root.on_demand;
  if (value === undefined) {
    if (sites.length > 0) throw doc.at(firstOnDemandLine(), `on_demand = true needs [on_demand] with ${ASK_NEEDED}`);
    return undefined;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw keyError(doc, undefined, 0, "on_demand", "on_demand must be a table, written [on_demand]");
  const table = value as Table;
  const fail = (key: string, message: string) => keyError(doc, "on_demand", 0, key, message);
  unknownKeys(table, ON_DEMAND_KEYS, (key) => fail(key, `unknown key "${key}" in [on_demand] (allowed: ${ON_DEMAND_KEYS.join(", ")})`));
  const ask = table.ask;
  if (ask === undefined) throw doc.at(headerLine(doc, "on_demand"), `[on_demand] needs ${ASK_NEEDED}`);
  if (typeof ask !== "string" || !/^https?:\/\//i.test(ask) || !URL.canParse(ask)) throw fail("ask", `[on_demand] ask must be an http:// or https:// URL, e.g. ask = "http://127.0.0.1:9123/check"`);
  const maxPerMinute = table.max_per_minute ?? 10;
  if (typeof maxPerMinute !== "number" || !Number.isInteger(maxPerMinute) || maxPerMinute < 1) throw fail("max_per_minute", "[on_demand] max_per_minute must be a whole number above 0, e.g. max_per_minute = 10");
  if (sites.length === 0) throw doc.at(headerLine(doc, "on_demand"), `[on_demand] serves no site: add on_demand = true to the [[site]] whose upstream answers those names`);
  return { ask, maxPerMinute, sites };
}
