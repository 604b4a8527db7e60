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
 * "connected" event, hence the connect probe below. `request.url` arrives already normalized by
 * Bun.serve (`/a\..\admin` → `/admin`, `/%2e%2e/x` → `/x`), and `fetch` collapses `//x` to `/x`:
 * the target is forwarded as `request.url` gives it, which is as close to byte for byte as the
 * two allow.
 */
import { cidrMatcher } from "./cidr.ts";
import { hostNameMatches, parseRequestHost } from "./host.ts";
import { setForwardingHeaders, withoutHopByHop } from "./proxy-headers.ts";

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

/** The `fetch` the proxy calls: the global one by default. */
export type ProxyFetch = (url: string, init: RequestInit & { decompress?: boolean; duplex?: "half" }) => Promise<Response>;

/** The reverse proxy's configuration. */
export interface ReverseProxyOptions {
  readonly sites: readonly ProxySite[];
  /** Peers (CIDR ranges) whose `X-Forwarded-*`/`Forwarded` fields are believed and extended. */
  readonly trustedProxies?: readonly string[];
  /** Default: the global `fetch`. */
  readonly fetch?: ProxyFetch;
  /** Tries a TCP connection to `hostname:port`: true when it connects within `timeoutMs`. Default: `Bun.connect`. */
  readonly probe?: (hostname: string, port: number, timeoutMs: number) => Promise<boolean>;
  /** Called once per request when its response headers are decided (an access log). */
  readonly onRequest?: (entry: ProxyLogEntry) => void;
}

/** The handler: a request and its connection in, the upstream's response (or the proxy's error page) out. */
export type ReverseProxy = (request: Request, connection: ProxyConnection) => Promise<Response>;

/** One upstream and its limits; shared by the sites that name the same upstream URL. */
export interface Upstream {
  readonly url: URL;
  readonly base: string;
  readonly connectTimeoutMs: number;
  readonly responseHeaderTimeoutMs: number;
  readonly maxRequests: number;
  inFlight: number;
  probing?: Promise<boolean> | undefined;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_RESPONSE_HEADER_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_REQUESTS = 64;
/** Bodies up to this size, announced by Content-Length, are read whole before they are sent on. */
const SMALL_BODY_BYTES = 64 * 1024;

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
  const send = options.fetch ?? ((url, init) => fetch(url, init));
  const probe = options.probe ?? tcpProbe;
  const log = options.onRequest;
  return async (request, connection) => {
    const started = performance.now();
    const routed = route(request, connection);
    const done = (response: Response, error?: string, detail?: string) => {
      log?.({
        time: new Date().toISOString(), client: connection.clientAddress, method: request.method, host: routed.hostHeader, target: routed.target,
        status: response.status, durationMs: Math.round(performance.now() - started), ...(error ? { error } : {}), ...(detail ? { detail } : {}),
      });
      return response;
    };
    if (!routed.upstream) return done(routed.refusal.response, routed.refusal.error);
    if (routed.upstream.inFlight >= routed.upstream.maxRequests) return done(page(503, "Service Unavailable: too many requests in progress, try again shortly"), "busy");
    const outcome = await forward(request, `${routed.upstream.base}${routed.target}`, routed.headers, routed.upstream, send, probe);
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

interface Outcome {
  readonly response: Response;
  readonly error?: string;
  readonly detail?: string;
}

/** Sends one request upstream; holds a slot of the upstream's limit until the response body ends. */
async function forward(request: Request, url: string, headers: Headers, upstream: Upstream, send: ProxyFetch, probe: NonNullable<ReverseProxyOptions["probe"]>): Promise<Outcome> {
  upstream.inFlight++;
  let released = false;
  const abort = new AbortController();
  const release = () => {
    if (released) return;
    released = true;
    upstream.inFlight--;
    request.signal.removeEventListener("abort", onClientGone);
  };
  const onClientGone = () => {
    abort.abort(new DOMException("the client went away", "AbortError"));
    release();
  };
  if (request.signal.aborted) onClientGone();
  else request.signal.addEventListener("abort", onClientGone, { once: true });
  const deadlines = startDeadlines(upstream, abort, probe);
  try {
    const hasBody = request.body !== null && request.method !== "GET" && request.method !== "HEAD";
    if (!hasBody) deadlines.requestSent();
    const response = await send(url, {
      method: request.method,
      headers,
      redirect: "manual",
      decompress: false,
      signal: abort.signal,
      ...(hasBody ? { body: whenRead(request.body!, deadlines.requestSent), duplex: "half" as const } : {}),
    });
    deadlines.settle();
    return { response: await relay(response, release, abort) };
  } catch (error) {
    deadlines.settle();
    release();
    const detail = (error as Error)?.message ?? String(error);
    if (request.signal.aborted) return { response: page(502, "Bad Gateway"), error: "client_gone", detail };
    if (deadlines.verdict === "timeout") return { response: page(504, "Gateway Timeout: the site did not answer in time"), error: "timeout", detail };
    if (deadlines.verdict === "unreachable") return { response: page(502, "Bad Gateway: the site cannot be reached"), error: "unreachable", detail };
    return { response: page(502, "Bad Gateway: the site cannot be reached"), error: "upstream_error", detail };
  }
}

interface Deadlines {
  /** Starts the response-header timeout (once the request, body included, has been sent). */
  readonly requestSent: () => void;
  /** The response headers came, or the request failed: no timeout applies any more. */
  readonly settle: () => void;
  /** Which deadline aborted the request, if one did. */
  readonly verdict: "timeout" | "unreachable" | undefined;
}

/**
 * The two deadlines of an upstream request. Response headers: counted from the end of the request
 * body, as Go's ResponseHeaderTimeout (an upload may take longer). Connect: Bun's fetch tells no
 * "connected", so once it has passed without an answer the upstream's port is probed, and a probe
 * that does not connect either aborts the request.
 */
function startDeadlines(upstream: Upstream, abort: AbortController, probe: NonNullable<ReverseProxyOptions["probe"]>): Deadlines {
  let headerTimer: ReturnType<typeof setTimeout> | undefined;
  let settled = false;
  const state: { verdict: Deadlines["verdict"] } = { verdict: undefined };
  const connectTimer = setTimeout(() => {
    void probeOnce(upstream, probe).then((connected) => {
      if (connected || settled || abort.signal.aborted) return;
      state.verdict = "unreachable";
      abort.abort(new DOMException("the upstream does not accept connections", "TimeoutError"));
    });
  }, upstream.connectTimeoutMs);
  return {
    requestSent: () => {
      if (settled) return;
      headerTimer ??= setTimeout(() => {
        state.verdict = "timeout";
        abort.abort(new DOMException("no response headers in time", "TimeoutError"));
      }, upstream.responseHeaderTimeoutMs);
    },
    settle: () => {
      settled = true;
      clearTimeout(headerTimer);
      clearTimeout(connectTimer);
    },
    get verdict() {
      return state.verdict;
    },
  };
}

/** `body`, streamed, calling `onEnd` once it has been read to the end. */
function whenRead(body: ReadableStream<Uint8Array>, onEnd: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read();
      if (chunk.done) {
        onEnd();
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
}

/** One probe at a time per upstream, shared by every request waiting on it. */
function probeOnce(upstream: Upstream, probe: NonNullable<ReverseProxyOptions["probe"]>): Promise<boolean> {
  upstream.probing ??= probe(upstream.url.hostname.replace(/^\[|\]$/g, ""), portOf(upstream.url), upstream.connectTimeoutMs).finally(() => {
    upstream.probing = undefined;
  });
  return upstream.probing;
}

/** The upstream's response for the client: hop-by-hop fields dropped, body streamed as it came (still encoded). */
async function relay(response: Response, release: () => void, abort: AbortController): Promise<Response> {
  const init = { status: response.status, statusText: response.statusText, headers: withoutHopByHop(response.headers) };
  if (response.body === null) {
    release();
    return new Response(null, init);
  }
  const length = Number(response.headers.get("content-length") ?? NaN);
  if (length <= SMALL_BODY_BYTES) {
    // Read whole before answering: cheaper than a stream of our own (measured), and the place is freed exactly.
    try {
      return new Response(await response.arrayBuffer(), init);
    } finally {
      release();
    }
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          release();
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch (error) {
        release();
        controller.error(error);
      }
    },
    cancel(reason) {
      release();
      abort.abort(reason);
      return reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
  return new Response(body, init);
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

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
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

/** The proxy's own answer: status and one line, nothing internal. */
export function page(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
}

/** Whether `hostname:port` accepts a TCP connection within `timeoutMs`. */
async function tcpProbe(hostname: string, port: number, timeoutMs: number): Promise<boolean> {
  const timer = Promise.withResolvers<boolean>();
  const timeout = setTimeout(() => timer.resolve(false), timeoutMs);
  const connected = Bun.connect({ hostname, port, socket: { open: (socket) => void socket.end(), data: () => {} } }).then(() => true, () => false);
  try {
    return await Promise.race([connected, timer.promise]);
  } finally {
    clearTimeout(timeout);
  }
}
