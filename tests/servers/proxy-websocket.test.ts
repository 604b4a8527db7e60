/**
 * WebSocket through the reverse proxy, on real sockets: a Bun WebSocket echo server as the
 * upstream, a `Bun.serve` wired with `createWebSocketProxy()` as the daemon's server would be, and
 * two clients: Bun's WebSocket client for messages and closes, raw TCP handshakes for the errors.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { createReverseProxy, createWebSocketProxy, isWebSocketUpgrade, type WebSocketProxyData } from "../../src/servers/index.ts";

let upstream: ReturnType<typeof Bun.serve>;
let front: Bun.Server<WebSocketProxyData>;
const upgrades: { target: string; headers: Record<string, string> }[] = [];
const upstreamCloses: { code: number; reason: string }[] = [];
const upstreamClosed = { notify: () => {} };

beforeAll(async () => {
  upstream = Bun.serve<undefined>({
    hostname: "127.0.0.1", port: 0,
    fetch(request, server) {
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      upgrades.push({ target: request.url.slice(request.url.indexOf("/", 8)), headers });
      const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((token) => token.trim());
      const chosen: Record<string, string> = offered.includes("chat.v2") ? { "sec-websocket-protocol": "chat.v2" } : {};
      return server.upgrade(request, { headers: chosen }) ? undefined : new Response("not a websocket", { status: 400 });
    },
    websocket: {
      open: (socket) => void socket.send("hello from upstream"), // before the client may be ready
      message(socket, message) {
        if (message === "close-me") socket.close(4001, "bye");
        else socket.send(message);
      },
      close(_, code, reason) {
        upstreamCloses.push({ code, reason });
        upstreamClosed.notify();
      },
    },
  });
  const closedPort = (() => {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    return port;
  })();
  const sites = [
    { names: ["127.0.0.1"], upstream: `http://127.0.0.1:${upstream.port}/base` },
    { names: ["down.test"], upstream: `http://127.0.0.1:${closedPort}` },
  ];
  const proxy = createReverseProxy({ sites });
  const sockets = createWebSocketProxy({ sites });
  front = Bun.serve<WebSocketProxyData>({
    hostname: "127.0.0.1", port: 0,
    websocket: sockets.websocket,
    fetch(request, server) {
      const connection = { clientAddress: server.requestIP(request)?.address, tls: false };
      return isWebSocketUpgrade(request) ? sockets.upgrade(request, server, connection) : proxy(request, connection);
    },
  });
});

afterAll(async () => {
  await front?.stop(true);
  await upstream?.stop(true);
});

/** Opens a client WebSocket through the proxy; resolves once open, with every message it receives. */
async function openClient(path: string, protocols?: string[]): Promise<{ socket: WebSocket; messages: (string | ArrayBuffer)[]; next: () => Promise<string | ArrayBuffer>; closed: Promise<CloseEvent> }> {
  const socket = new WebSocket(`ws://127.0.0.1:${front.port}${path}`, protocols);
  socket.binaryType = "arraybuffer";
  const messages: (string | ArrayBuffer)[] = [];
  let waiter: ((message: string | ArrayBuffer) => void) | undefined;
  socket.onmessage = (event) => {
    messages.push(event.data);
    waiter?.(event.data);
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("the client WebSocket failed to open"));
  });
  const next = () => new Promise<string | ArrayBuffer>((resolve) => (waiter = resolve));
  return { socket, messages, next, closed };
}

/** A WebSocket handshake over a raw TCP socket; returns the status line. */
function rawHandshake(host: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(front.port!, "127.0.0.1");
    let text = "";
    socket.on("data", (data) => {
      text += data.toString("latin1");
      if (text.includes("\r\n")) {
        resolve(text.split("\r\n")[0]!);
        socket.destroy();
      }
    });
    socket.write(`GET /chat HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  });
}

describe("WebSocket through the reverse proxy", () => {
  test("messages go both ways, text and binary; the upstream's greeting arrives; the upstream saw the target and the forwarding fields", async () => {
    const client = await openClient("/chat?room=1");
    const greeting = client.messages.length > 0 ? client.messages[0] : await client.next();
    expect(greeting).toBe("hello from upstream");
    let reply = client.next();
    client.socket.send("ping");
    expect(await reply).toBe("ping");
    reply = client.next();
    client.socket.send(new Uint8Array([0, 1, 2, 255]));
    expect(new Uint8Array((await reply) as ArrayBuffer)).toEqual(new Uint8Array([0, 1, 2, 255]));
    client.socket.close(1000, "done");
    await client.closed;
    const upgrade = upgrades.at(-1)!;
    expect(upgrade.target).toBe("/base/chat?room=1");
    expect(upgrade.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(upgrade.headers.forwarded).toBe(`for=127.0.0.1;host="127.0.0.1:${front.port}";proto=http`);
  });

  test("the upstream's choice of subprotocol answers the client's handshake", async () => {
    const client = await openClient("/p", ["chat.v1", "chat.v2"]);
    expect(client.socket.protocol).toBe("chat.v2");
    expect(upgrades.at(-1)!.headers["sec-websocket-protocol"]).toBe("chat.v1, chat.v2");
    client.socket.close();
    await client.closed;
  });

  test("closes are passed on both ways with their code and reason", async () => {
    const byUpstream = await openClient("/c1");
    byUpstream.socket.send("close-me");
    const event = await byUpstream.closed;
    expect([event.code, event.reason]).toEqual([4001, "bye"]);

    const byClient = await openClient("/c2");
    const seen = new Promise<void>((resolve) => (upstreamClosed.notify = resolve));
    byClient.socket.close(4002, "client leaves");
    await seen;
    expect(upstreamCloses.at(-1)).toEqual({ code: 4002, reason: "client leaves" });
  });

  test("an upstream that is down gets 502, a name no site serves 421, a malformed Host 400", async () => {
    expect(await rawHandshake("down.test")).toBe("HTTP/1.1 502 Bad Gateway");
    expect(await rawHandshake("other.test")).toBe("HTTP/1.1 421 Misdirected Request");
    expect(await rawHandshake("a@127.0.0.1")).toBe("HTTP/1.1 400 Bad Request");
  });
});
