/**
 * Retries of transient failures. Pebble never sends 429, 503 or Retry-After, so these tests run
 * the real transport against a MOCK: a small local HTTP server standing in for a CA, scripted per
 * test. Connection failures use a real closed port.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { AcmeConnectionError, AcmeProblemError, AcmeProtocolError, AcmeTransport, registerAccount } from "../../src/acme/index.ts";
import { decodeBase64Url, utf8Decode } from "../../src/encoding/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly at: number;
  readonly nonce?: string;
}

let mock: ReturnType<typeof Bun.serve> | undefined;
afterEach(() => {
  mock?.stop(true);
  mock = undefined;
});

/** Starts the mock CA; `script` answers each request, given how many came before it. */
function startMockCa(script: (request: Request, index: number, base: string) => Response | undefined): {
  base: string;
  seen: Seen[];
  firstRequest: Promise<void>;
} {
  const seen: Seen[] = [];
  const first = Promise.withResolvers<void>();
  let nonceCounter = 0;
  mock = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      let nonce: string | undefined;
      if (request.method === "POST") {
        const jws = await request.json() as { protected: string };
        nonce = JSON.parse(utf8Decode(decodeBase64Url(jws.protected))).nonce;
      }
      seen.push({ method: request.method, path: url.pathname, at: performance.now(), nonce });
      first.resolve();
      const base = `http://127.0.0.1:${mock!.port}`;
      const scripted = script(request, seen.length - 1, base);
      const response = scripted ?? defaultCa(request, base);
      response.headers.set("replay-nonce", `nonce-${++nonceCounter}`);
      return response;
    },
  });
  return { base: `http://127.0.0.1:${mock.port}`, seen, firstRequest: first.promise };
}

function defaultCa(request: Request, base: string): Response {
  const path = new URL(request.url).pathname;
  if (path === "/dir") return Response.json({ newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order`, revokeCert: `${base}/revoke`, keyChange: `${base}/key` });
  if (path === "/nonce") return new Response(null, { status: 200 });
  if (path === "/account") return Response.json({ status: "valid" }, { status: 201, headers: { location: `${base}/account/1` } });
  return new Response("not found", { status: 404 });
}

const fastRetry = { baseDelayMs: 20, maxDelayMs: 100 };

describe("AcmeTransport retries (against a mock CA)", () => {
  test("503 with Retry-After in seconds is retried after that delay", async () => {
    const { base, seen } = startMockCa((_, index) => (index === 0 ? new Response("busy", { status: 503, headers: { "retry-after": "1" } }) : undefined));
    const directory = await new AcmeTransport({ directoryUrl: `${base}/dir`, retry: fastRetry }).getDirectory();
    expect(directory.newAccount).toBe(`${base}/account`);
    expect(seen.map((s) => s.method + " " + s.path)).toEqual(["GET /dir", "GET /dir"]);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  test("429 with Retry-After as an HTTP-date is retried once that date has passed", async () => {
    const { base, seen } = startMockCa((_, index) => {
      if (index > 0) return undefined;
      const date = new Date(Math.ceil((Date.now() + 1000) / 1000) * 1000 + 1000).toUTCString();
      return new Response("slow down", { status: 429, headers: { "retry-after": date } });
    });
    await new AcmeTransport({ directoryUrl: `${base}/dir`, retry: fastRetry }).getDirectory();
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  test("5xx without Retry-After is retried with backoff a bounded number of times, then reported", async () => {
    const { base, seen } = startMockCa(() => new Response("broken", { status: 500 }));
    const error = await new AcmeTransport({ directoryUrl: `${base}/dir`, retry: fastRetry }).getDirectory().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect((error as Error).message).toContain("HTTP 500");
    expect(seen).toHaveLength(5); // 1 try + 4 retries
    const gaps = seen.slice(1).map((s, i) => s.at - seen[i]!.at);
    expect(gaps[1]!).toBeGreaterThan(gaps[0]! * 1.5); // backoff grows
  });

  test("a Retry-After beyond the limit (a rate limit lifting in an hour) is reported at once with the CA's problem", async () => {
    const { base, seen } = startMockCa((request) =>
      new URL(request.url).pathname === "/account"
        ? Response.json({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new accounts" }, {
          status: 429,
          headers: { "retry-after": "3600", "content-type": "application/problem+json" },
        })
        : undefined
    );
    const error = await registerAccount(new AcmeTransport({ directoryUrl: `${base}/dir`, retry: fastRetry }), await generateKeyPair("ec256")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).problem).toEqual({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many new accounts" });
    expect(seen.filter((s) => s.path === "/account")).toHaveLength(1);
  });

  test("a retried POST is signed again with a fresh nonce", async () => {
    const { base, seen } = startMockCa((request) =>
      new URL(request.url).pathname === "/account" && seen.filter((s) => s.path === "/account").length === 1
        ? new Response("unavailable", { status: 503, headers: { "retry-after": "0" } })
        : undefined
    );
    const account = await registerAccount(new AcmeTransport({ directoryUrl: `${base}/dir`, retry: fastRetry }), await generateKeyPair("ec256"));
    expect(account.kid).toBe(`${base}/account/1`);
    const posts = seen.filter((s) => s.path === "/account");
    expect(posts).toHaveLength(2);
    expect(posts[0]!.nonce).not.toBe(posts[1]!.nonce);
  });

  test("a refused connection is retried a bounded number of times, then reported", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const closedPort = probe.port;
    probe.stop(true);
    let attempts = 0;
    const transport = new AcmeTransport({
      directoryUrl: `http://127.0.0.1:${closedPort}/dir`,
      retry: fastRetry,
      fetch: (url, init) => {
        attempts++;
        return fetch(url, init);
      },
    });
    const error = await transport.getDirectory().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect((error as Error).message).toContain(`127.0.0.1:${closedPort}`);
    expect(attempts).toBe(4); // 1 try + 3 retries
  });

  test("an aborted signal ends a long Retry-After wait at once with its reason", async () => {
    const { base, firstRequest } = startMockCa(() => new Response("busy", { status: 503, headers: { "retry-after": "30" } }));
    const controller = new AbortController();
    const reason = new Error("overall deadline");
    const pending = new AcmeTransport({ directoryUrl: `${base}/dir`, signal: controller.signal }).getDirectory().catch((e: unknown) => e);
    await firstRequest;
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });
});
