/**
 * askEndpoint(): Caddy's `ask` rule against a real HTTP server on loopback: only 2xx allows; a
 * redirect, an error status, silence past the timeout or a refused connection refuses; answers
 * are remembered for `cacheMs` (an injected clock moves time).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { askEndpoint } from "../../src/manage/index.ts";

let server: ReturnType<typeof Bun.serve>;
const seen: string[] = [];
beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      const url = new URL(request.url);
      const domain = url.searchParams.get("domain") ?? "";
      seen.push(`${url.pathname}?${url.searchParams.toString()}`);
      if (domain.startsWith("slow")) await Bun.sleep(2_000);
      const status = Number(/^s(\d{3})\./.exec(domain)?.[1] ?? (domain.startsWith("ok") ? 200 : 403));
      return status >= 300 && status < 400 ? Response.redirect("http://127.0.0.1:1/elsewhere", status) : new Response("answer", { status });
    },
  });
});
afterAll(() => server.stop(true));

const url = () => `http://127.0.0.1:${server.port}/check`;

describe("askEndpoint()", () => {
  test("2xx allows; 3xx, 4xx and 5xx refuse", async () => {
    const allow = askEndpoint({ url: url() });
    expect(await allow("ok.test")).toBe(true);
    expect(await allow("s204.test")).toBe(true);
    expect(await allow("s302.test")).toBe(false);
    expect(await allow("s403.test")).toBe(false);
    expect(await allow("s500.test")).toBe(false);
  });

  test("sends GET ask?domain=NAME, keeping the URL's own query", async () => {
    const allow = askEndpoint({ url: `${url()}?token=abc` });
    await allow("ok-query.test");
    expect(seen).toContain("/check?token=abc&domain=ok-query.test");
  });

  test("no answer within the timeout, or nothing listening, refuses", async () => {
    expect(await askEndpoint({ url: url(), timeoutMs: 200 })("slow.test")).toBe(false);
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = closed.port;
    await closed.stop(true);
    expect(await askEndpoint({ url: `http://127.0.0.1:${port}/check` })("ok.test")).toBe(false);
  });

  test("an answer is remembered for cacheMs, then asked again; handshakes at once ask once", async () => {
    let now = 1_000_000;
    const allow = askEndpoint({ url: url(), cacheMs: 60_000, clock: { now: () => now } });
    const count = (name: string) => seen.filter((entry) => entry.endsWith(`domain=${name}`)).length;
    expect(await Promise.all([allow("no-cache.test"), allow("no-cache.test"), allow("no-cache.test")])).toEqual([false, false, false]);
    expect(count("no-cache.test")).toBe(1);
    now += 59_000;
    expect(await allow("no-cache.test")).toBe(false);
    expect(count("no-cache.test")).toBe(1);
    now += 2_000;
    expect(await allow("no-cache.test")).toBe(false);
    expect(count("no-cache.test")).toBe(2);
  });

  test("refuses a URL that is not http(s) at once, as a TypeError", () => {
    expect(() => askEndpoint({ url: "ftp://127.0.0.1/check" })).toThrow(TypeError);
    expect(() => askEndpoint({ url: "/check" })).toThrow("the on-demand ask endpoint must be an http:// or https:// URL");
  });
});
