/**
 * The reverse proxy as a function, no socket: `createReverseProxy()` with an injected `fetch`
 * (a fake upstream that records what it was sent, named as such below) and an injected connect
 * probe; the Host parser and the CIDR matcher with tables of inputs.
 */
import { describe, expect, test } from "bun:test";
import { cidrMatcher, createReverseProxy, hostNameMatches, parseRequestHost, type ProxyFetch, type ProxyLogEntry, type ProxySite } from "../../src/servers/index.ts";

interface Sent {
  readonly url: string;
  readonly init: Parameters<ProxyFetch>[1];
}

/** A fake upstream: records every call, answers with `answer` (which may wait or throw). */
function fakeFetch(answer: (sent: Sent) => Promise<Response> | Response = () => new Response("upstream body")): { fetch: ProxyFetch; sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    fetch: async (url, init) => {
      const call = { url, init };
      sent.push(call);
      return answer(call);
    },
  };
}

/** Answers only when the request is aborted: then rejects with the abort reason, as fetch does. */
const hanging = (sent: Sent) => new Promise<Response>((_, reject) => {
  const signal = sent.init.signal!;
  signal.addEventListener("abort", () => reject(signal.reason), { once: true });
});

const SITES: ProxySite[] = [
  { names: ["app.example", "*.wild.example"], upstream: "http://10.0.0.1:8080" },
  { names: ["api.example"], upstream: "http://10.0.0.2:9000/base/" },
];
const client = { clientAddress: "203.0.113.7", tls: true };

function request(target: string, headers: Record<string, string> = {}, init: RequestInit = {}): Request {
  return new Request(`http://app.example${target}`, { ...init, headers: { host: "app.example", ...headers } });
}

describe("parseRequestHost()", () => {
  test.each([
    ["app.example", { name: "app.example" }],
    ["App.Example.", { name: "app.example" }],
    ["app.example:8443", { name: "app.example", port: 8443 }],
    ["127.0.0.1:1", { name: "127.0.0.1", port: 1 }],
    ["[::1]:443", { name: "[::1]", port: 443 }],
    ["[2001:DB8:0:0::1]", { name: "[2001:db8::1]" }],
    ["under_score.example", { name: "under_score.example" }],
  ])("accepts %p", (value, expected) => {
    expect(parseRequestHost(value)).toEqual(expected);
  });

  test.each([
    "", ":99999", "a:99999", "a:0", "a:", "a:+1", "a@b", "user@app.example", "host/x", "app.example/x", "ü.example", "Ã¼.example",
    "<script>", "a b", "a..b", ".a", "-a.example", "[::1", "[::1]x", "[1.2.3.4]", "[::1]:99999", "a:1:2", `${"a".repeat(64)}.example`,
  ])("refuses %p", (value) => {
    expect(parseRequestHost(value)).toBeUndefined();
  });

  test("refuses a missing header", () => {
    expect(parseRequestHost(null)).toBeUndefined();
  });
});

describe("hostNameMatches()", () => {
  test.each([
    ["app.example", "app.example", true],
    ["App.Example", "app.example", true],
    ["app.example", "www.app.example", false],
    ["*.wild.example", "a.wild.example", true],
    ["*.wild.example", "a.b.wild.example", false],
    ["*.wild.example", "wild.example", false],
    ["*.wild.example", "xwild.example", false],
  ])("%p covers %p: %p", (pattern, name, expected) => {
    expect(hostNameMatches(pattern, name)).toBe(expected);
  });
});

describe("cidrMatcher()", () => {
  const trusted = cidrMatcher(["10.0.0.0/8", "192.168.1.7", "fd00::/8", "172.16.0.0/12"]);
  test.each([
    ["10.200.1.1", true], ["11.0.0.1", false], ["192.168.1.7", true], ["192.168.1.8", false], ["::ffff:10.1.2.3", true],
    ["fd12::1", true], ["fe80::1", false], ["172.31.255.255", true], ["172.32.0.0", false], ["not an address", false],
  ])("%p is trusted: %p", (address, expected) => {
    expect(trusted(address)).toBe(expected);
  });

  test("an unknown peer is never trusted", () => {
    expect(trusted(undefined)).toBe(false);
    expect(cidrMatcher([])("10.0.0.1")).toBe(false);
  });

  test.each(["10.0.0.0/33", "10.0.0/8", "fd00::/129", "10.0.0.0/8/1", "example.net", "10.0.0.0/x", ""])("refuses %p with a RangeError", (range) => {
    expect(() => cidrMatcher([range])).toThrow(RangeError);
  });
});

describe("createReverseProxy()", () => {
  test("a malformed or missing Host gets 400 and nothing is sent upstream", async () => {
    const upstream = fakeFetch();
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch });
    for (const host of ["app.example:99999", "a@app.example", "app.example/x", "<script>"]) {
      const response = await proxy(request("/", { host }), client);
      expect(response.status).toBe(400);
      expect(await response.text()).not.toContain(host);
    }
    // No Host header and a relative URL, as Bun.serve gives an HTTP/1.0 request without Host:
    expect((await proxy({ url: "/", headers: new Headers(), method: "GET", body: null, signal: new AbortController().signal } as unknown as Request, client)).status).toBe(400);
    expect(upstream.sent).toEqual([]);
  });

  test("a host no site serves gets 421; a wildcard covers one label", async () => {
    const upstream = fakeFetch();
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch });
    expect((await proxy(request("/", { host: "other.example" }), client)).status).toBe(421);
    expect((await proxy(request("/", { host: "a.b.wild.example" }), client)).status).toBe(421);
    expect((await proxy(request("/", { host: "a.wild.example" }), client)).status).toBe(200);
    expect(upstream.sent.map((sent) => sent.url)).toEqual(["http://10.0.0.1:8080/"]);
  });

  test("forwards method, target (query included, not re-parsed) and Host to the site's upstream, with redirects and encodings left alone", async () => {
    const upstream = fakeFetch();
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch });
    await proxy(request("/a%2Fb/%7Ex?q=%zz&r=1", { "accept-encoding": "gzip, br" }), client);
    await proxy(request("/v1?x", { host: "API.example:443" }), client);
    const [first, second] = upstream.sent;
    expect(first!.url).toBe("http://10.0.0.1:8080/a%2Fb/%7Ex?q=%zz&r=1");
    expect(first!.init).toMatchObject({ method: "GET", redirect: "manual", decompress: false });
    expect(first!.init.body).toBeUndefined();
    expect(new Headers(first!.init.headers).get("accept-encoding")).toBe("gzip, br");
    expect(new Headers(first!.init.headers).get("host")).toBe("app.example");
    expect(second!.url).toBe("http://10.0.0.2:9000/base/v1?x");
    expect(new Headers(second!.init.headers).get("host")).toBe("API.example:443");
  });

  test("adds no Accept-Encoding when the client sent none", async () => {
    const upstream = fakeFetch();
    await createReverseProxy({ sites: SITES, fetch: upstream.fetch })(request("/"), client);
    expect(new Headers(upstream.sent[0]!.init.headers).has("accept-encoding")).toBe(false);
  });

  test("streams a request body (duplex half) and sends none for GET and HEAD", async () => {
    const upstream = fakeFetch(async (sent) => new Response(await new Response(sent.init.body).text()));
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch });
    const body = new ReadableStream({ start: (controller) => { controller.enqueue(new TextEncoder().encode("streamed")); controller.close(); } });
    const response = await proxy(request("/upload", {}, { method: "POST", body, duplex: "half" } as RequestInit), client);
    expect(await response.text()).toBe("streamed");
    expect(upstream.sent[0]!.init).toMatchObject({ method: "POST", duplex: "half" });
    await proxy(request("/", {}, { method: "HEAD" }), client);
    expect(upstream.sent[1]!.init.body).toBeUndefined();
  });

  test("removes hop-by-hop fields from the request, those named in Connection included", async () => {
    const upstream = fakeFetch();
    await createReverseProxy({ sites: SITES, fetch: upstream.fetch })(request("/", {
      connection: "keep-alive, X-Session-Secret", "x-session-secret": "s", "keep-alive": "timeout=5", "proxy-authorization": "Basic eDp5",
      "proxy-connection": "keep-alive", te: "trailers", trailer: "x-t", upgrade: "h2c", "x-kept": "yes",
    }), client);
    const headers = new Headers(upstream.sent[0]!.init.headers);
    for (const name of ["connection", "x-session-secret", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "upgrade"]) expect(headers.has(name)).toBe(false);
    expect(headers.get("x-kept")).toBe("yes");
  });

  test("from an untrusted peer, client-sent forwarding fields are replaced by the connection's", async () => {
    const upstream = fakeFetch();
    await createReverseProxy({ sites: SITES, fetch: upstream.fetch })(request("/", {
      "x-forwarded-for": "6.6.6.6", "x-forwarded-proto": "http", "x-forwarded-host": "evil.example", "x-forwarded-port": "1",
      "x-real-ip": "6.6.6.6", forwarded: "for=6.6.6.6",
    }), client);
    const headers = new Headers(upstream.sent[0]!.init.headers);
    expect(headers.get("x-forwarded-for")).toBe("203.0.113.7");
    expect(headers.get("x-forwarded-proto")).toBe("https");
    expect(headers.get("x-forwarded-host")).toBe("app.example");
    expect(headers.get("forwarded")).toBe("for=203.0.113.7;host=app.example;proto=https");
    expect(headers.has("x-forwarded-port")).toBe(false);
    expect(headers.has("x-real-ip")).toBe(false);
  });

  test("from a trusted proxy, its forwarding fields are kept and the peer appended; IPv6 is quoted in Forwarded", async () => {
    const upstream = fakeFetch();
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch, trustedProxies: ["fd00::/8"] });
    await proxy(request("/", { host: "app.example:8443", "x-forwarded-for": "198.51.100.1", "x-forwarded-proto": "http", "x-real-ip": "198.51.100.1", forwarded: "for=198.51.100.1" }), { clientAddress: "fd00::5", tls: false });
    const headers = new Headers(upstream.sent[0]!.init.headers);
    expect(headers.get("x-forwarded-for")).toBe("198.51.100.1, fd00::5");
    expect(headers.get("x-forwarded-proto")).toBe("http");
    expect(headers.get("x-real-ip")).toBe("198.51.100.1");
    expect(headers.get("forwarded")).toBe(`for=198.51.100.1, for="[fd00::5]";host="app.example:8443";proto=http`);
  });

  test("removes hop-by-hop fields from the response and passes the body and Content-Encoding untouched", async () => {
    const gzipped = Bun.gzipSync(new TextEncoder().encode("hello hello hello"));
    const upstream = fakeFetch(() => new Response(gzipped, {
      status: 201,
      headers: { "content-encoding": "gzip", connection: "close, X-Internal", "x-internal": "1", "keep-alive": "timeout=5", "proxy-authenticate": "Basic", "set-cookie": "a=1", vary: "accept-encoding" },
    }));
    const response = await createReverseProxy({ sites: SITES, fetch: upstream.fetch })(request("/", { "accept-encoding": "gzip" }), client);
    expect(response.status).toBe(201);
    expect(response.headers.get("content-encoding")).toBe("gzip");
    for (const name of ["connection", "x-internal", "keep-alive", "proxy-authenticate"]) expect(response.headers.has(name)).toBe(false);
    expect(response.headers.get("set-cookie")).toBe("a=1");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(gzipped);
  });

  test("an upstream that fails gets a 502 page that names nothing internal; the log keeps the cause", async () => {
    const log: ProxyLogEntry[] = [];
    const upstream = fakeFetch(() => {
      throw Object.assign(new TypeError("Unable to connect to 10.0.0.1:8080"), { code: "ECONNREFUSED" });
    });
    const response = await createReverseProxy({ sites: SITES, fetch: upstream.fetch, onRequest: (entry) => log.push(entry) })(request("/x"), client);
    expect(response.status).toBe(502);
    const text = await response.text();
    for (const secret of ["10.0.0.1", "8080", "connect", "ECONNREFUSED"]) expect(text).not.toContain(secret);
    expect(log).toMatchObject([{ status: 502, error: "upstream_error", detail: "Unable to connect to 10.0.0.1:8080", host: "app.example", target: "/x", method: "GET", client: "203.0.113.7" }]);
  });

  test("the access log's time comes from the given clock (now), not the system's", async () => {
    const log: ProxyLogEntry[] = [];
    const upstream = fakeFetch(() => new Response("ok"));
    await createReverseProxy({ sites: SITES, fetch: upstream.fetch, onRequest: (entry) => log.push(entry), now: () => Date.UTC(2031, 0, 2, 3, 4, 5) })(request("/x"), client);
    expect(log.map((entry) => entry.time)).toEqual(["2031-01-02T03:04:05.000Z"]);
  });

  test("no response headers within responseHeaderTimeoutMs: the upstream request is aborted and the client gets 504", async () => {
    const upstream = fakeFetch(hanging);
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, responseHeaderTimeoutMs: 30 }], fetch: upstream.fetch, probe: async () => true });
    const response = await proxy(request("/"), client);
    expect(response.status).toBe(504);
    expect(upstream.sent[0]!.init.signal!.aborted).toBe(true);
  });

  test("the response-header timeout counts from the end of the request body, as an upload may take longer", async () => {
    const upstream = fakeFetch((sent) => new Promise((resolve, reject) => {
      sent.init.signal!.addEventListener("abort", () => reject(sent.init.signal!.reason), { once: true });
      void new Response(sent.init.body).text().then((text) => resolve(new Response(`read ${text.length}`)));
    }));
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, responseHeaderTimeoutMs: 20 }], fetch: upstream.fetch, probe: async () => true });
    const slowUpload = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await Bun.sleep(60); // the client takes three header timeouts to send its body
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    const response = await proxy(request("/upload", {}, { method: "PUT", body: slowUpload, duplex: "half" } as RequestInit), client);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("read 10");
  });

  test("requests waiting on one upstream share one connect probe", async () => {
    let probes = 0;
    const { promise: verdict, resolve: decide } = Promise.withResolvers<boolean>();
    const probing = Promise.withResolvers<void>();
    const probe = () => {
      probes++;
      probing.resolve();
      return verdict;
    };
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, connectTimeoutMs: 5 }], fetch: fakeFetch(hanging).fetch, probe });
    const waiting = [proxy(request("/1"), client), proxy(request("/2"), client), proxy(request("/3"), client)];
    await probing.promise;
    await Bun.sleep(20); // no event tells that the other two timers have joined the probe: a margin four times their timeout

    decide(false);
    expect((await Promise.all(waiting)).map((response) => response.status)).toEqual([502, 502, 502]);
    expect(probes).toBe(1);
  });

  test("an upstream that accepts no connection within connectTimeoutMs (probe fails) gets 502; a reachable slow one is waited for", async () => {
    const probes: number[] = [];
    const slow = fakeFetch((sent) => Bun.sleep(80).then(() => (sent.init.signal!.aborted ? Promise.reject(sent.init.signal!.reason) : new Response("late"))));
    const reachable = createReverseProxy({ sites: [{ ...SITES[0]!, connectTimeoutMs: 10 }], fetch: slow.fetch, probe: async (_, port, timeoutMs) => (probes.push(port, timeoutMs), true) });
    expect(await (await reachable(request("/"), client)).text()).toBe("late");
    expect(probes).toEqual([8080, 10]);
    const unreachable = createReverseProxy({ sites: [{ ...SITES[0]!, connectTimeoutMs: 10 }], fetch: fakeFetch(hanging).fetch, probe: async () => false });
    const response = await unreachable(request("/"), client);
    expect(response.status).toBe(502);
  });

  test("a client that goes away aborts its upstream request and frees its place", async () => {
    const upstream = fakeFetch(hanging);
    const log: ProxyLogEntry[] = [];
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, maxRequests: 1 }], fetch: upstream.fetch, probe: async () => true, onRequest: (entry) => log.push(entry) });
    const gone = new AbortController();
    const pending = proxy(new Request("http://app.example/", { headers: { host: "app.example" }, signal: gone.signal }), client);
    expect((await proxy(request("/"), client)).status).toBe(503); // the one place is taken
    gone.abort();
    await pending;
    expect(upstream.sent[0]!.init.signal!.aborted).toBe(true);
    expect(log.map((entry) => entry.error)).toEqual(["busy", "client_gone"]);
    const later = new AbortController();
    const next = proxy(new Request("http://app.example/", { headers: { host: "app.example" }, signal: later.signal }), client);
    expect(upstream.sent).toHaveLength(2); // the place is free again: this one reached the upstream
    later.abort();
    expect((await next).status).toBe(502);
  });

  test("a full upstream gets 503 at once while another upstream is still served", async () => {
    const upstream = fakeFetch((sent) => (sent.url.startsWith("http://10.0.0.1") ? hanging(sent) : new Response("api")));
    const proxy = createReverseProxy({ sites: SITES.map((site) => ({ ...site, maxRequests: 3 })), fetch: upstream.fetch, probe: async () => true });
    const clients = Array.from({ length: 3 }, () => new AbortController());
    const pending = clients.map((controller) => proxy(new Request("http://app.example/", { headers: { host: "app.example" }, signal: controller.signal }), client));
    const busy = await proxy(request("/"), client);
    expect(busy.status).toBe(503);
    expect(await (await proxy(request("/", { host: "api.example" }), client)).text()).toBe("api");
    for (const controller of clients) controller.abort();
    expect((await Promise.all(pending)).map((response) => response.status)).toEqual([502, 502, 502]);
  });

  test("maxRequestsTotal caps the requests in flight to all upstreams together", async () => {
    const upstream = fakeFetch(hanging);
    const proxy = createReverseProxy({ sites: SITES, fetch: upstream.fetch, probe: async () => true, maxRequestsTotal: 2 });
    const clients = [new AbortController(), new AbortController()];
    const pending = [
      proxy(new Request("http://app.example/", { headers: { host: "app.example" }, signal: clients[0]!.signal }), client),
      proxy(new Request("http://api.example/", { headers: { host: "api.example" }, signal: clients[1]!.signal }), client),
    ];
    expect((await proxy(request("/", { host: "api.example" }), client)).status).toBe(503);
    clients[0]!.abort();
    await pending[0];
    const third = new AbortController();
    const next = proxy(new Request("http://api.example/", { headers: { host: "api.example" }, signal: third.signal }), client);
    expect(upstream.sent).toHaveLength(3); // a place was given back
    third.abort();
    clients[1]!.abort();
    await Promise.all([next, pending[1]]);
    expect(() => createReverseProxy({ sites: SITES, maxRequestsTotal: 0 })).toThrow(RangeError);
  });

  test("a place is held until the response body has been read to the end", async () => {
    const { promise: finish, resolve: finishBody } = Promise.withResolvers<void>();
    const upstream = fakeFetch(() => new Response(new ReadableStream({
      async pull(controller) {
        controller.enqueue(new TextEncoder().encode("part"));
        await finish;
        controller.close();
      },
    })));
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, maxRequests: 1 }], fetch: upstream.fetch });
    const streaming = await proxy(request("/stream"), client);
    expect((await proxy(request("/"), client)).status).toBe(503);
    finishBody();
    expect(await streaming.text()).toBe("part");
    expect((await proxy(request("/"), client)).status).toBe(200);
  });

  test("a small body announced by Content-Length is read whole before it is answered, and its place freed then", async () => {
    const upstream = fakeFetch(() => new Response("0123456789", { headers: { "content-length": "10" } }));
    const proxy = createReverseProxy({ sites: [{ ...SITES[0]!, maxRequests: 1 }], fetch: upstream.fetch });
    const first = await proxy(request("/"), client);
    expect((await proxy(request("/"), client)).status).toBe(200); // the first body is still unread by its client
    expect(await first.text()).toBe("0123456789");
    expect(first.headers.get("content-length")).toBe("10");
  });

  test("refuses an upstream that is not http(s), a bad trusted range and a limit below 1", () => {
    expect(() => createReverseProxy({ sites: [{ names: ["a.example"], upstream: "ftp://x" }] })).toThrow(TypeError);
    expect(() => createReverseProxy({ sites: SITES, trustedProxies: ["10.0.0.0/40"] })).toThrow(RangeError);
    expect(() => createReverseProxy({ sites: [{ ...SITES[0]!, maxRequests: 0 }] })).toThrow(RangeError);
  });
});
