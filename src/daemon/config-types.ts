/**
 * The daemon's configuration as typed values: what {@link parseServeConfig} (config.ts) returns.
 */
import type { Identifier } from "../acme/index.ts";
import type { KeyType } from "../jose/index.ts";

/** One site: its names, and where its HTTPS requests go (none: the certificate is only kept renewed). */
export interface SiteConfig {
  readonly names: readonly Identifier[];
  readonly upstream?: string;
  readonly deployHook?: string;
  /** How long the deploy hook may run before its process group is killed, ms (`deploy_hook_timeout`, seconds in the file; default 300 s). */
  readonly deployHookTimeoutMs?: number;
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
