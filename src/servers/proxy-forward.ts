/**
 * One request through the reverse proxy to its upstream: the upstream's place taken and given
 * back when the response body ends, the client's departure and the two deadlines aborting the
 * upstream request, and the upstream's response relayed with its body untouched.
 */
import { withoutHopByHop } from "./proxy-headers.ts";

/** The `fetch` the proxy calls: the global one by default. */
export type ProxyFetch = (url: string, init: RequestInit & { decompress?: boolean; duplex?: "half" }) => Promise<Response>;

/** Tries a TCP connection to `hostname:port`: true when it connects within `timeoutMs`. */
export type Probe = (hostname: string, port: number, timeoutMs: number) => Promise<boolean>;

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

/** Bodies up to this size, announced by Content-Length, are read whole before they are sent on. */
const SMALL_BODY_BYTES = 64 * 1024;

export interface Outcome {
  readonly response: Response;
  readonly error?: string;
  readonly detail?: string;
}

/** Sends one request upstream; holds a place in the upstream's limit and in `all` until the response body ends. */
export async function forward(request: Request, url: string, headers: Headers, upstream: Upstream, send: ProxyFetch, probe: Probe, all: { inFlight: number }): Promise<Outcome> {
  upstream.inFlight++;
  all.inFlight++;
  let released = false;
  const abort = new AbortController();
  const release = () => {
    if (released) return;
    released = true;
    upstream.inFlight--;
    all.inFlight--;
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
function startDeadlines(upstream: Upstream, abort: AbortController, probe: Probe): Deadlines {
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
function probeOnce(upstream: Upstream, probe: Probe): Promise<boolean> {
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
    // Read whole before answering: cheaper than a stream that watches for the end (measured), and
    // the place is freed exactly. Handed on as a stream: Bun.serve adds `Content-Type:
    // application/octet-stream` to a response made from bytes that has none (measured).
    try {
      const bytes = new Uint8Array(await response.arrayBuffer());
      return new Response(new ReadableStream({ start: (controller) => (controller.enqueue(bytes), controller.close()) }), init);
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

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/** The proxy's own answer: status and one line, nothing internal. */
export function page(status: number, text: string): Response {
  return new Response(`${text}\n`, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" } });
}

/** Whether `hostname:port` accepts a TCP connection within `timeoutMs`. */
export async function tcpProbe(hostname: string, port: number, timeoutMs: number): Promise<boolean> {
  const timer = Promise.withResolvers<boolean>();
  const timeout = setTimeout(() => timer.resolve(false), timeoutMs);
  const connected = Bun.connect({ hostname, port, socket: { open: (socket) => void socket.end(), data: () => {} } }).then(() => true, () => false);
  try {
    return await Promise.race([connected, timer.promise]);
  } finally {
    clearTimeout(timeout);
  }
}
