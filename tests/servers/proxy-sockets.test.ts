/**
 * The reverse proxy on real sockets, behind a TLS `Bun.serve` as the daemon runs it, checked with
 * clients that neither retry nor decompress on their own (curl, Python's ssl sockets, raw TLS
 * sockets): a hanging upstream (accepts, never answers) with hundreds of abandoned requests while
 * another site keeps answering; nginx with `gzip on` as a compressing upstream; malformed Hosts;
 * the request-smuggling probes (CL.TE, TE.CL, CL.CL, obfuscated TE); bodies streamed both ways.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { createReverseProxy, type ProxyLogEntry } from "../../src/servers/index.ts";
import { startNginx, type Nginx } from "../support/nginx.ts";
import { makeTlsMaterial } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const HANG_LIMIT = 64;
let rootFile: string;
let front: ReturnType<typeof Bun.serve>;
let echo: ReturnType<typeof Bun.serve>;
let nginx: Nginx;
let page: string;
const log: ProxyLogEntry[] = [];

/** Upstream that accepts connections and never answers; counts the connections open. */
const silent = { open: 0, changed: () => {} };
let silentListener: Bun.TCPSocketListener<undefined>;
/** Upstream that answers every request with fixed bytes, hop-by-hop fields included. */
let rawListener: Bun.TCPSocketListener<undefined>;
/**
 * A listener that accepts nothing (Python, `listen(0)`, its queue filled by its own connections):
 * the kernel drops further SYNs, so a connection to it hangs as to a firewalled host.
 */
let blackhole: Bun.Subprocess<"ignore", "pipe", "pipe">;
/** What the echo upstream received (method, target, body), and a hook for streaming tests. */
const received: { method: string; target: string; body: string }[] = [];
let onFirstChunk: ((text: string) => void) | undefined;
let releaseStream: (() => void) | undefined;

async function freePort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

beforeAll(async () => {
  const tls = await makeTlsMaterial();
  rootFile = tls.rootFile;
  silentListener = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    socket: { open: () => void (silent.open++, silent.changed()), close: () => void (silent.open--, silent.changed()), data() {} },
  });
  rawListener = Bun.listen({
    hostname: "127.0.0.1", port: 0,
    socket: {
      data(socket) {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close, X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\nX-Public: yes\r\n\r\nok");
        socket.end();
      },
    },
  });
  echo = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    async fetch(request) {
      const target = request.url.slice(request.url.indexOf("/", request.url.indexOf("//") + 2));
      if (target === "/stream-down") {
        const { promise, resolve } = Promise.withResolvers<void>();
        releaseStream = resolve;
        return new Response(new ReadableStream({
          async start(controller) {
            controller.enqueue(new TextEncoder().encode("first;"));
            await promise;
            controller.enqueue(new TextEncoder().encode("second"));
            controller.close();
          },
        }));
      }
      let body = "";
      const reader = request.body?.getReader();
      for (let chunk = await reader?.read(); chunk && !chunk.done; chunk = await reader!.read()) {
        if (!body) onFirstChunk?.(new TextDecoder().decode(chunk.value));
        body += new TextDecoder().decode(chunk.value);
      }
      received.push({ method: request.method, target, body });
      const headers: Record<string, string> = {};
      request.headers.forEach((value, name) => (headers[name] = value));
      return Response.json({ target, body, headers });
    },
  });
  const webroot = makeTempDir("bun-acme-proxy-webroot-");
  page = "A compressible page. ".repeat(500);
  writeFileSync(join(webroot, "page.txt"), page);
  nginx = await startNginx(webroot, await freePort(), { gzip: true });
  const closedPort = await freePort();
  blackhole = Bun.spawn(["python3", "-c", `
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(0)
port = listener.getsockname()[1]
fillers = []
for _ in range(4):
    filler = socket.socket()
    filler.setblocking(False)
    filler.connect_ex(("127.0.0.1", port))
    fillers.append(filler)
time.sleep(0.2)
print(port, flush=True)
time.sleep(3600)
`], { stdout: "pipe", stderr: "pipe" });
  const firstLine = await blackhole.stdout.getReader().read();
  const blackholePort = Number(new TextDecoder().decode(firstLine.value).trim());
  if (!blackholePort) throw new Error(`the blackhole listener did not start: ${await new Response(blackhole.stderr).text()}`);
  const proxy = createReverseProxy({
    sites: [
      { names: ["echo.test"], upstream: `http://127.0.0.1:${echo.port}` },
      { names: ["gzip.test"], upstream: `http://127.0.0.1:${nginx.port}` },
      { names: ["hang.test"], upstream: `http://127.0.0.1:${silentListener.port}`, maxRequests: HANG_LIMIT },
      { names: ["slow.test"], upstream: `http://127.0.0.1:${silentListener.port}/slow`, responseHeaderTimeoutMs: 300 },
      { names: ["raw.test"], upstream: `http://127.0.0.1:${rawListener.port}` },
      { names: ["closed.test"], upstream: `http://127.0.0.1:${closedPort}` },
      { names: ["blackhole.test"], upstream: `http://127.0.0.1:${blackholePort}`, connectTimeoutMs: 300 },
    ],
    onRequest: (entry) => log.push(entry),
  });
  front = Bun.serve({
    hostname: "127.0.0.1", port: 0,
    tls: { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") },
    fetch: (request, server) => proxy(request, { clientAddress: server.requestIP(request)?.address, tls: true }),
  });
});

afterAll(async () => {
  await front?.stop(true);
  await echo?.stop(true);
  silentListener?.stop(true);
  rawListener?.stop(true);
  await nginx?.stop();
  blackhole?.kill();
});

/** curl over TLS to the front with `host`; returns status, headers and body bytes. */
async function curl(host: string, path: string, args: readonly string[] = []): Promise<{ code: number; status: number; headers: string; body: Uint8Array<ArrayBuffer> }> {
  const dir = makeTempDir("bun-acme-proxy-curl-");
  const child = Bun.spawn(["curl", "-s", "--max-time", "10", "--cacert", rootFile, "-H", `Host: ${host}`, "-D", join(dir, "headers"), "-o", join(dir, "body"),
    "-w", "%{http_code}", ...args, `https://localhost:${front.port}${path}`], { stdout: "pipe", stderr: "pipe" });
  const [status, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const read = (name: string) => { try { return readFileSync(join(dir, name)); } catch { return Buffer.alloc(0); } };
  return { code, status: Number(status), headers: read("headers").toString("latin1").toLowerCase(), body: new Uint8Array(read("body")) };
}

/** Raw bytes over TLS from Python's ssl module (no HTTP library between); returns what came back until the server closed or 3 s passed. */
async function pythonRaw(bytes: Uint8Array): Promise<string> {
  const script = `
import socket, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(sys.stdin.buffer.read())
        s.settimeout(3)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk: break
                out += chunk
        except (socket.timeout, ssl.SSLError, ConnectionResetError):
            pass
        sys.stdout.buffer.write(out)
`;
  const child = Bun.spawn(["python3", "-c", script, String(front.port), rootFile], { stdin: bytes, stdout: "pipe", stderr: "pipe" });
  const [out, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (stderr) throw new Error(stderr);
  return out;
}

const statusLines = (response: string) => response.split("\r\n").filter((line) => line.startsWith("HTTP/"));

/** A TLS connection to the front, opened and ready. */
async function openTls(): Promise<TLSSocket> {
  const socket = tlsConnect({ host: "127.0.0.1", port: front.port, servername: "localhost", ca: readFileSync(rootFile, "utf8") });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  return socket;
}

function untilSilentOpen(predicate: (open: number) => boolean): Promise<void> {
  return new Promise((resolve) => {
    silent.changed = () => {
      if (predicate(silent.open)) resolve();
    };
    silent.changed();
  });
}

describe("a hanging upstream cannot freeze the proxy", () => {
  test("300 requests to an upstream that never answers, then abandoned: the other sites keep answering, extra requests get 503 at once, and the upstream connections close when their clients leave", async () => {
    const sockets = await Promise.all(Array.from({ length: 300 }, () => openTls()));
    const answers = sockets.map((socket) => new Promise<string>((resolve) => {
      let text = "";
      socket.on("data", (data) => (text += data.toString("latin1")));
      socket.on("close", () => resolve(text));
      socket.on("error", () => {});
    }));
    for (const socket of sockets) socket.write("GET /never HTTP/1.1\r\nHost: hang.test\r\n\r\n");
    await untilSilentOpen((open) => open === HANG_LIMIT);

    const other = await curl("echo.test", "/still-there");
    expect(other.status).toBe(200);
    expect(JSON.parse(new TextDecoder().decode(other.body)).target).toBe("/still-there");
    const busy = await curl("hang.test", "/more");
    expect(busy.status).toBe(503);
    expect(new TextDecoder().decode(busy.body)).not.toContain("127.0.0.1");

    for (const socket of sockets) socket.destroy(); // the clients give up
    await untilSilentOpen((open) => open === 0); // every upstream request was cancelled
    const refused = (await Promise.all(answers)).filter((text) => text.startsWith("HTTP/1.1 503"));
    expect(refused.length).toBe(300 - HANG_LIMIT);
    expect((await curl("echo.test", "/after")).status).toBe(200);
    expect((await curl("gzip.test", "/page.txt")).status).toBe(200);
  });

  test("an upstream slower than responseHeaderTimeoutMs gets 504, one that is down 502, pages naming nothing internal", async () => {
    const slow = await curl("slow.test", "/");
    expect(slow.status).toBe(504);
    const down = await curl("closed.test", "/");
    expect(down.status).toBe(502);
    for (const body of [slow.body, down.body]) {
      const text = new TextDecoder().decode(body);
      expect(text).not.toMatch(/127\.0\.0\.1|:\d{2,5}|refused|ECONN/i);
    }
    expect(log.findLast((entry) => entry.host === "closed.test")).toMatchObject({ status: 502, error: "upstream_error" });
  });
});

describe("an upstream that accepts no connection", () => {
  test("gets 502 after connectTimeoutMs (its port probed), not after the response-header timeout", async () => {
    const answer = await curl("blackhole.test", "/");
    expect(answer.status).toBe(502);
    expect(log.findLast((entry) => entry.host === "blackhole.test")).toMatchObject({ status: 502, error: "unreachable" });
  });
});

describe("encodings pass through untouched (nginx with gzip on)", () => {
  test("curl --compressed gets the page; the bytes on the wire are nginx's gzip", async () => {
    const compressed = await curl("gzip.test", "/page.txt", ["--compressed"]);
    expect(compressed.code).toBe(0);
    expect(new TextDecoder().decode(compressed.body)).toBe(page);

    const raw = await curl("gzip.test", "/page.txt", ["-H", "Accept-Encoding: gzip"]);
    expect(raw.headers).toContain("content-encoding: gzip");
    expect([raw.body[0], raw.body[1]]).toEqual([0x1f, 0x8b]);
    expect(raw.body.length).toBeLessThan(page.length / 10);
    expect(new TextDecoder().decode(Bun.gunzipSync(raw.body))).toBe(page);
  });

  test("a client that accepts no encoding gets identity: the proxy adds no Accept-Encoding", async () => {
    const plain = await curl("gzip.test", "/page.txt");
    expect(plain.headers).not.toContain("content-encoding");
    expect(new TextDecoder().decode(plain.body)).toBe(page);
  });
});

describe("HTTP/2 to clients", () => {
  test("behind Bun.serve({ http2: true }), curl --http2 gets the upstream's answer; the authority is the checked Host", async () => {
    const tls = await makeTlsMaterial();
    const proxy = createReverseProxy({ sites: [{ names: ["localhost"], upstream: `http://127.0.0.1:${echo.port}` }] });
    const h2 = Bun.serve({
      hostname: "127.0.0.1", port: 0, http2: true,
      tls: { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") },
      fetch: (request, server) => proxy(request, { clientAddress: server.requestIP(request)?.address, tls: true }),
    });
    try {
      const child = Bun.spawn(["curl", "-s", "--http2", "--max-time", "10", "--cacert", rootFile, "-w", "\n%{http_version} %{http_code}", `https://localhost:${h2.port}/two?x=1`], { stdout: "pipe" });
      const [body, versionAndStatus] = (await new Response(child.stdout).text()).split("\n");
      expect(versionAndStatus).toBe("2 200");
      const echoed = JSON.parse(body!);
      expect(echoed.target).toBe("/two?x=1");
      expect(echoed.headers.host).toBe(`localhost:${h2.port}`);
      expect(echoed.headers["x-forwarded-for"]).toBe("127.0.0.1");
    } finally {
      await h2.stop(true);
    }
  });
});

describe("headers", () => {
  test("client-sent forwarding fields are replaced; hop-by-hop fields go neither way", async () => {
    const answer = await curl("echo.test", "/h", ["-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Real-IP: 6.6.6.6", "-H", "Forwarded: for=6.6.6.6", "-H", "X-Forwarded-Port: 1",
      "-H", "Connection: X-Hop", "-H", "X-Hop: 1", "-H", "Proxy-Authorization: Basic eDp5"]);
    const headers = JSON.parse(new TextDecoder().decode(answer.body)).headers as Record<string, string>;
    expect(headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(headers.forwarded).toBe("for=127.0.0.1;host=echo.test;proto=https");
    expect(headers["x-forwarded-proto"]).toBe("https");
    for (const name of ["x-real-ip", "x-forwarded-port", "x-hop", "proxy-authorization"]) expect(headers[name]).toBeUndefined();

    const raw = await curl("raw.test", "/");
    expect(raw.headers).toContain("x-public: yes");
    expect(raw.headers).not.toContain("content-type"); // the upstream sent none: none is added
    for (const name of ["x-internal", "keep-alive", "proxy-authenticate", "connection: close, x-internal"]) expect(raw.headers).not.toContain(name);
  });
});

describe("malformed requests", () => {
  test.each([
    ["a port out of range", "echo.test:99999"],
    ["userinfo", "a@echo.test"],
    ["a path", "echo.test/x"],
    ["non-ASCII", "ü.test"],
    ["markup", "<script>"],
  ])("a Host with %s gets 400", async (_, host) => {
    const response = await pythonRaw(Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, "utf8"));
    expect(statusLines(response)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(response).not.toContain("<script>");
  });

  test("HTTP/1.0 without Host gets 400; a name no site serves gets 421", async () => {
    expect(statusLines(await pythonRaw(Buffer.from("GET / HTTP/1.0\r\n\r\n")))[0]).toMatch(/^HTTP\/1\.[01] 400 /);
    expect(statusLines(await pythonRaw(Buffer.from("GET / HTTP/1.1\r\nHost: unknown.test\r\nConnection: close\r\n\r\n")))).toEqual(["HTTP/1.1 421 Misdirected Request"]);
  });

  test.each([
    ["CL.TE", "POST /c HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n"],
    ["TE.CL", "POST /c HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n2f\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n\r\n0\r\n\r\n"],
    ["CL.CL", "POST /c HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 0\r\nContent-Length: 41\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n"],
    ["obfuscated TE (xchunked)", "POST /c HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n"],
    ["obfuscated TE (space before colon)", "POST /c HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n"],
    ["obfuscated TE (chunked, identity)", "POST /c HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked, identity\r\nContent-Length: 4\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: echo.test\r\n\r\n"],
  ])("request smuggling probe %s: 400, and no request reaches the upstream", async (_, probe) => {
    const before = received.length;
    const response = await pythonRaw(Buffer.from(probe, "latin1"));
    expect(statusLines(response)).toEqual(["HTTP/1.1 400 Bad Request"]);
    expect(received.slice(before)).toEqual([]);
  });
});

describe("targets and bodies", () => {
  // Not byte for byte in every case, measured: Bun.serve resolves dot segments before the handler
  // sees the URL (`/a\..\admin` → `/admin`, `/%2e%2e/x` → `/x`) and Bun's fetch collapses `//x` to `/x`.
  test("the target's percent-encoding and query reach the upstream as sent", async () => {
    const answer = await pythonRaw(Buffer.from("GET /a%2Fb/%7Ex/%2F%2E%2e%5C?q=%zz&r=a+b HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n"));
    expect(answer).toContain(`"target":"/a%2Fb/%7Ex/%2F%2E%2e%5C?q=%zz&r=a+b"`);
  });

  test("a chunked POST reaches the upstream whole and its answer comes back", async () => {
    const body = "x".repeat(100_000);
    const chunks = body.match(/.{1,30000}/g)!.map((part) => `${part.length.toString(16)}\r\n${part}\r\n`).join("");
    const answer = await pythonRaw(Buffer.from(`POST /upload HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`));
    expect(statusLines(answer)).toEqual(["HTTP/1.1 200 OK"]);
    expect(received.at(-1)).toEqual({ method: "POST", target: "/upload", body });
  });

  test("curl's 3 MB upload (Expect: 100-continue, chunked) reaches the upstream byte for byte", async () => {
    const file = join(makeTempDir("bun-acme-proxy-upload-"), "upload.bin");
    const bytes = crypto.getRandomValues(new Uint8Array(3_000_000 / 3)).map((byte) => byte % 26 + 97);
    writeFileSync(file, new TextDecoder().decode(bytes).repeat(3));
    const answer = await curl("echo.test", "/big-upload", ["-H", "Transfer-Encoding: chunked", "--data-binary", `@${file}`]);
    expect(answer.status).toBe(200);
    expect(received.at(-1)!.body).toBe(readFileSync(file, "utf8"));
  });

  test("a request body is streamed: the upstream reads its first part before the client sends the rest", async () => {
    const socket = await openTls();
    const firstSeen = new Promise<string>((resolve) => (onFirstChunk = resolve));
    let answer = "";
    socket.on("data", (data) => (answer += data.toString("latin1")));
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write("POST /up HTTP/1.1\r\nHost: echo.test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n");
    expect(await firstSeen).toBe("hello");
    onFirstChunk = undefined;
    socket.write("6\r\n world\r\n0\r\n\r\n");
    await closed;
    expect(received.at(-1)?.body).toBe("hello world");
    expect(answer).toStartWith("HTTP/1.1 200 OK");
  });

  test("a response body is streamed: the client reads its first part before the upstream sends the rest", async () => {
    const socket = await openTls();
    let answer = "";
    const first = Promise.withResolvers<void>();
    socket.on("data", (data) => {
      answer += data.toString("latin1");
      if (answer.includes("first;")) first.resolve();
    });
    const closed = new Promise((resolve) => socket.on("close", resolve));
    socket.write("GET /stream-down HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n");
    await first.promise;
    expect(answer).not.toContain("second");
    releaseStream!();
    await closed;
    expect(answer).toContain("second");
  });
});
