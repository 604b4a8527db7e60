/**
 * A reverse proxy for HTTPS sites, as a `(Request, connection) → Response` handler: the site is
 * chosen by the checked Host header, the request goes to the site's upstream with its body and
 * encodings untouched and streamed, and one misbehaving upstream or client cannot freeze the
 * others (client aborts cancel the upstream request, timeouts, a request limit per upstream).
 *
 * What Bun 1.4.5 allows and what it does not (measured): its `fetch` decompresses and adds
 * `Accept-Encoding` unless `decompress: false` (set here); it sends at most 256 requests at once
 * across the whole process (`BUN_CONFIG_MAX_HTTP_REQUESTS` at start raises that) and queues the
 * rest without any timeout, which is why every upstream has its own limit; it reports no
 * "connected" event, hence the connect probe (proxy-forward.ts). `request.url` arrives normalized by
 * Bun.serve (`/a\..\admin` → `/admin`, `/%2e%2e/x` → `/x`), and `fetch` collapses `//x` to `/x`:
 * the target is forwarded as `request.url` gives it, which is as close to byte for byte as the
 * two allow.
 */
import { cidrMatcher } from "./cidr.ts";
import { hostNameMatches, parseRequestHost } from "./host.ts";
import { setForwardingHeaders, withoutHopByHop } from "./proxy-headers.ts";
import { forward, page, tcpProbe, type Probe, type ProxyFetch, type Upstream } from "./proxy-forward.ts";

export { page, type ProxyFetch, type Upstream } from "./proxy-forward.ts";

/** One proxied site. */
export interface ProxySite {
  /** Host names served (a wildcard `*.example.net` covers one label). */
  readonly names: readonly string[];
  /** `http://` or `https://` origin, optionally with a base path (`http://127.0.0.1:8080/app`). */
  readonly upstream: string;
  /**
   * How long the upstream may take to accept a connection (default 10 s: Caddy dials for 3 s,
   * nginx for 60 s): a request with no answer after this long has the upstream's port probed,
   * and fails with 502 if that probe does not connect within the same time either (so an
   * unreachable upstream is given up after one to two times this).
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long the upstream may take to send its response headers once the request is sent (default
   * 60 s, nginx's proxy_read_timeout; Caddy sets none): then 504.
   */
  readonly responseHeaderTimeoutMs?: number;
  /** Requests to this upstream in flight at once (default 64): more get 503 at once. */
  readonly maxRequests?: number;
}

/** The connection a request came on. */
export interface ProxyConnection {
  /** The peer's address (Bun: `server.requestIP(request)?.address`). */
  readonly clientAddress?: string;
  readonly tls: boolean;
}

/** One line of the access log. */
export interface ProxyLogEntry {
  readonly time: string;
  readonly client: string | undefined;
  readonly method: string;
  readonly host: string | undefined;
  readonly target: string;
  readonly status: number;
  readonly durationMs: number;
  /** Why the proxy answered itself (`bad_host`, `unknown_host`, `busy`, `unreachable`, `timeout`, `client_gone`, `upstream_error`). */
  readonly error?: string;
  /** The underlying error's message, for the operator's log only (never sent to the client). */
  readonly detail?: string;
}

/** The reverse proxy's configuration. */
export interface ReverseProxyOptions {
  readonly sites: readonly ProxySite[];
  /** Peers (CIDR ranges) whose `X-Forwarded-*`/`Forwarded` fields are believed and extended. */
  readonly trustedProxies?: readonly string[];
  /** Default: the global `fetch`. */
  readonly fetch?: ProxyFetch;
  /** Tries a TCP connection to `hostname:port`: true when it connects within `timeoutMs`. Default: `Bun.connect`. */
  readonly probe?: Probe;
  /**
   * Requests in flight to all upstreams together (default 224): more get 503 at once. Bun's
   * `fetch` sends at most 256 at a time in a process (`BUN_CONFIG_MAX_HTTP_REQUESTS`) and queues
   * the rest, the ACME client's requests included: this keeps room for them whatever the traffic.
   */
  readonly maxRequestsTotal?: number;
  /** Called once per request when its response headers are decided (an access log). */
  readonly onRequest?: (entry: ProxyLogEntry) => void;
  /** The clock that stamps each entry's `time` (default `Date.now`), e.g. the daemon's injected one. */
  readonly now?: () => number;
}

/** The handler: a request and its connection in, the upstream's response (or the proxy's error page) out. */
export type ReverseProxy = (request: Request, connection: ProxyConnection) => Promise<Response>;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RESPONSE_HEADER_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_REQUESTS = 64;
const DEFAULT_MAX_REQUESTS_TOTAL = 224;

/**
 * Makes the reverse proxy. A malformed Host gets 400, a host no site serves 421, a full upstream
 * 503, an unreachable one 502 and a slow one 504, each with a page that names nothing internal.
 *
 * @example
 * const proxy = createReverseProxy({ sites: [{ names: ["example.net"], upstream: "http://127.0.0.1:8080" }] });
 * Bun.serve({ fetch: (request, server) => proxy(request, { clientAddress: server.requestIP(request)?.address, tls: true }) });
 * @throws {TypeError} for an upstream that is not an http(s) URL
 * @throws {RangeError} for a trusted proxy that is not a CIDR range, or a timeout or limit below 1
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6
 */
export function createReverseProxy(options: ReverseProxyOptions): ReverseProxy {
  const route = proxyRouter(options);
  const maxTotal = options.maxRequestsTotal ?? DEFAULT_MAX_REQUESTS_TOTAL;
  if (!Number.isInteger(maxTotal) || maxTotal < 1) throw new RangeError(`Cannot use maxRequestsTotal = ${maxTotal}: it must be a whole number, 1 or more`);
  const all = { inFlight: 0 };
  const send = options.fetch ?? ((url, init) => fetch(url, init));
  const probe = options.probe ?? tcpProbe;
  const log = options.onRequest;
  const now = options.now ?? Date.now;
  return async (request, connection) => {
    const started = performance.now();
    const routed = route(request, connection);
    const done = (response: Response, error?: string, detail?: string) => {
      log?.({
        time: new Date(now()).toISOString(), client: connection.clientAddress, method: request.method, host: routed.hostHeader, target: routed.target,
        status: response.status, durationMs: Math.round(performance.now() - started), ...(error ? { error } : {}), ...(detail ? { detail } : {}),
      });
      return response;
    };
    if (!routed.upstream) return done(routed.refusal.response, routed.refusal.error);
    if (routed.upstream.inFlight >= routed.upstream.maxRequests || all.inFlight >= maxTotal) return done(page(503, "Service Unavailable: too many requests in progress, try again shortly"), "busy");
    const outcome = await forward(request, `${routed.upstream.base}${routed.target}`, routed.headers, routed.upstream, send, probe, all);
    return done(outcome.response, outcome.error, outcome.detail);
  };
}

/** Where a request goes (its upstream, and the headers to send there), or why it goes nowhere. */
export type Routed = { readonly hostHeader: string | undefined; readonly target: string } & (
  | { readonly upstream: Upstream; readonly headers: Headers; readonly refusal?: undefined }
  | { readonly upstream?: undefined; readonly refusal: { readonly response: Response; readonly error: string } }
);

/**
 * The routing shared by the HTTP and the WebSocket proxy: the Host checked (400), the site chosen
 * (421), hop-by-hop fields dropped and the forwarding fields set.
 * @throws {TypeError} for an upstream that is not an http(s) URL
 * @throws {RangeError} for a bad trusted range, timeout or limit
 */
export function proxyRouter(options: ReverseProxyOptions): (request: Request, connection: ProxyConnection) => Routed {
  const upstreams = new Map<string, Upstream>();
  const sites = options.sites.map((site) => ({ names: site.names, upstream: upstreamOf(site, upstreams) }));
  const trusted = cidrMatcher(options.trustedProxies ?? []);
  return (request, connection) => {
    const target = requestTarget(request.url);
    const hostHeader = request.headers.get("host") ?? authorityOf(request.url) ?? undefined;
    const host = parseRequestHost(hostHeader);
    if (!host) return { hostHeader, target, refusal: { response: page(400, "Bad Request: the Host header is missing or malformed"), error: "bad_host" } };
    const site = sites.find((candidate) => candidate.names.some((name) => hostNameMatches(name, host.name)));
    if (!site) return { hostHeader, target, refusal: { response: page(421, "Misdirected Request: no site here for this name"), error: "unknown_host" } };
    const headers = withoutHopByHop(request.headers);
    headers.set("host", hostHeader!);
    setForwardingHeaders(headers, { client: connection.clientAddress, tls: connection.tls, host: hostHeader!, trusted: trusted(connection.clientAddress) });
    return { hostHeader, target, upstream: site.upstream, headers };
  };
}

function upstreamOf(site: ProxySite, upstreams: Map<string, Upstream>): Upstream {
  if (!/^https?:\/\//i.test(site.upstream) || !URL.canParse(site.upstream)) {
    throw new TypeError(`Cannot proxy to "${site.upstream}": the upstream must be an http:// or https:// URL`);
  }
  const url = new URL(site.upstream);
  const base = site.upstream.replace(/\/+$/, "");
  const existing = upstreams.get(base);
  if (existing) return existing;
  const upstream: Upstream = {
    url,
    base,
    connectTimeoutMs: positive(site.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, "connectTimeoutMs"),
    responseHeaderTimeoutMs: positive(site.responseHeaderTimeoutMs ?? DEFAULT_RESPONSE_HEADER_TIMEOUT_MS, "responseHeaderTimeoutMs"),
    maxRequests: positive(site.maxRequests ?? DEFAULT_MAX_REQUESTS, "maxRequests"),
    inFlight: 0,
  };
  upstreams.set(base, upstream);
  return upstream;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value < 1) throw new RangeError(`Cannot use ${name} = ${value}: it must be 1 or more`);
  return value;
}

/** The request target (path and query) as the server gave it, without re-parsing it. */
export function requestTarget(url: string): string {
  if (url.startsWith("/")) return url;
  const scheme = url.indexOf("://");
  const slash = scheme < 0 ? -1 : url.indexOf("/", scheme + 3);
  return slash < 0 ? "/" : url.slice(slash);
}

/** The authority of an absolute request URL (HTTP/2 requests may carry no Host header). */
function authorityOf(url: string): string | null {
  const scheme = url.indexOf("://");
  if (scheme < 0) return null;
  const slash = url.indexOf("/", scheme + 3);
  return url.slice(scheme + 3, slash < 0 ? undefined : slash) || null;
}
