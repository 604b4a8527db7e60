/**
 * WebSocket through the reverse proxy: an upgrade request is routed like any other (Host checked,
 * site chosen, forwarding fields set), the connection to the upstream is opened first (so that
 * its subprotocol answers the client's handshake), then the client is upgraded, and messages and
 * closes go both ways. It needs a `Bun.serve` with the `websocket` handler given here.
 */
import { page, proxyRouter, type ProxyConnection, type ReverseProxyOptions } from "./proxy.ts";

/** What a proxied client WebSocket carries: its upstream, and what the upstream sent before the client was ready. */
export interface WebSocketProxyData {
  readonly upstream: WebSocket;
  readonly early: (string | ArrayBuffer)[];
}

/** The server side of WebSocket proxying. */
export interface WebSocketProxy {
  /**
   * Answers an upgrade request: `undefined` once the client is upgraded (return nothing from
   * `fetch` then), else the error page (400, 421, 502, 504).
   */
  upgrade(request: Request, server: Bun.Server<WebSocketProxyData>, connection: ProxyConnection): Promise<Response | undefined>;
  /** The `websocket` option of `Bun.serve`. */
  readonly websocket: Bun.WebSocketHandler<WebSocketProxyData>;
}

/** Bun's WebSocket client, which takes headers (the DOM typing of `WebSocket` hides that constructor). */
const BunWebSocket = WebSocket as unknown as new (url: string, options: Bun.WebSocketOptions) => WebSocket;

/** Fields of the client's handshake that the upstream handshake makes anew. */
const HANDSHAKE = ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol"];

/**
 * Whether a request asks for a WebSocket upgrade (`Upgrade: websocket`).
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-4.1
 */
export function isWebSocketUpgrade(request: Request): boolean {
  return request.method === "GET" && (request.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
}

/**
 * Makes the WebSocket side of the reverse proxy, for the same sites as `createReverseProxy()`.
 * The upstream handshake has `responseHeaderTimeoutMs` (default 60 s) to complete.
 *
 * @example
 * const sites = [{ names: ["example.net"], upstream: "http://127.0.0.1:8080" }];
 * const proxy = createReverseProxy({ sites });
 * const sockets = createWebSocketProxy({ sites });
 * Bun.serve({
 *   websocket: sockets.websocket,
 *   fetch: (request, server) => {
 *     const connection = { clientAddress: server.requestIP(request)?.address, tls: true };
 *     return isWebSocketUpgrade(request) ? sockets.upgrade(request, server, connection) : proxy(request, connection);
 *   },
 * });
 * @throws {TypeError} for an upstream that is not an http(s) URL
 * @see https://www.rfc-editor.org/rfc/rfc6455
 */
export function createWebSocketProxy(options: ReverseProxyOptions): WebSocketProxy {
  const route = proxyRouter(options);
  return {
    async upgrade(request, server, connection) {
      const routed = route(request, connection);
      if (!routed.upstream) return routed.refusal.response;
      for (const name of HANDSHAKE) routed.headers.delete(name);
      const protocols = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((token) => token.trim()).filter(Boolean);
      const url = `${routed.upstream.base.replace(/^http/i, "ws")}${routed.target}`;
      const opened = await openUpstream(url, routed.headers, protocols, routed.upstream.responseHeaderTimeoutMs, request.signal);
      if (opened instanceof Response) return opened;
      const { upstream, early } = opened;
      const upgraded = server.upgrade(request, { data: { upstream, early }, headers: upstream.protocol ? { "sec-websocket-protocol": upstream.protocol } : {} });
      if (upgraded) return undefined;
      upstream.close(1011);
      return page(400, "Bad Request: not a WebSocket handshake");
    },
    websocket: {
      open(client) {
        const { upstream, early } = client.data;
        for (const message of early.splice(0)) client.send(message);
        upstream.onmessage = (event) => void client.send(event.data as string | ArrayBuffer);
        upstream.onclose = (event) => client.close(sendableCode(event.code), event.reason);
        if (upstream.readyState !== WebSocket.OPEN) client.close(1011);
      },
      message(client, message) {
        if (client.data.upstream.readyState === WebSocket.OPEN) client.data.upstream.send(message);
      },
      close(client, code, reason) {
        const { upstream } = client.data;
        if (upstream.readyState === WebSocket.OPEN || upstream.readyState === WebSocket.CONNECTING) upstream.close(sendableCode(code), reason);
      },
    },
  };
}

/** Opens the upstream WebSocket; the error page when it cannot be opened in time. */
async function openUpstream(url: string, headers: Headers, protocols: string[], timeoutMs: number, clientGone: AbortSignal): Promise<WebSocketProxyData | Response> {
  const options: Bun.WebSocketOptions = { headers: [...headersList(headers)], ...(protocols.length > 0 ? { protocols } : {}) };
  const upstream = new BunWebSocket(url, options);
  upstream.binaryType = "arraybuffer";
  const early: (string | ArrayBuffer)[] = [];
  upstream.onmessage = (event) => void early.push(event.data as string | ArrayBuffer);
  const outcome = Promise.withResolvers<"open" | "failed" | "timeout">();
  const timer = setTimeout(() => outcome.resolve("timeout"), timeoutMs);
  const onGone = () => outcome.resolve("failed");
  clientGone.addEventListener("abort", onGone, { once: true });
  upstream.onopen = () => outcome.resolve("open");
  upstream.onerror = () => outcome.resolve("failed");
  upstream.onclose = () => outcome.resolve("failed");
  const result = await outcome.promise;
  clearTimeout(timer);
  clientGone.removeEventListener("abort", onGone);
  if (result === "open") return { upstream, early };
  upstream.close();
  return result === "timeout" ? page(504, "Gateway Timeout: the site did not answer in time") : page(502, "Bad Gateway: the site cannot be reached");
}

function headersList(headers: Headers): [string, string][] {
  const list: [string, string][] = [];
  headers.forEach((value, name) => list.push([name, value]));
  return list;
}

/**
 * A close code that may be sent in a Close frame: 1005, 1006 and 1015 only report what happened
 * and are replaced by 1011 (unexpected condition), or 1000 for a clean close without a code.
 * @see https://www.rfc-editor.org/rfc/rfc6455#section-7.4.1
 */
function sendableCode(code: number): number {
  if (code === 1005) return 1000;
  if (code === 1000 || (code >= 1001 && code <= 1014 && code !== 1004 && code !== 1006) || (code >= 3000 && code <= 4999)) return code;
  return 1011;
}
