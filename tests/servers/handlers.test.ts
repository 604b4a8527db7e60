import { describe, expect, test } from "bun:test";
import { certificateHandler, shutdownHandler } from "../../src/servers/index.ts";

describe("certificateHandler()", () => {
  test("GET / answers 200, other paths 404, other methods 405", async () => {
    expect(certificateHandler(new Request("https://a.test/")).status).toBe(200);
    expect(certificateHandler(new Request("https://a.test/secret")).status).toBe(404);
    expect(certificateHandler(new Request("https://a.test/", { method: "DELETE" })).status).toBe(405);
  });
});

describe("shutdownHandler()", () => {
  test("GET /shutdown answers 200 and calls back once, after answering", async () => {
    let calls = 0;
    const called = Promise.withResolvers<void>();
    const handler = shutdownHandler(() => {
      calls++;
      called.resolve();
    });
    expect(handler(new Request("http://a.test/other")).status).toBe(404);
    expect(handler(new Request("http://a.test/shutdown", { method: "POST" })).status).toBe(405);
    const response = handler(new Request("http://a.test/shutdown"));
    expect(response.status).toBe(200);
    expect(calls).toBe(0);
    handler(new Request("http://a.test/shutdown"));
    await called.promise;
    expect(calls).toBe(1);
  });

  test("only GET of exactly /shutdown shuts down: HEAD is 405, a query string 404", async () => {
    let calls = 0;
    const handler = shutdownHandler(() => calls++);
    expect(handler(new Request("http://a.test/shutdown", { method: "HEAD" })).status).toBe(405);
    expect(handler(new Request("http://a.test/shutdown?x")).status).toBe(404);
    expect(handler(new Request("http://a.test/shutdown?")).status).toBe(404);
    await Bun.sleep(0);
    expect(calls).toBe(0);
  });
});
