/**
 * The transport against hostile answers from a FAKE CA (tests/support/fake-ca.ts behind Bun.serve
 * on loopback, so that Bun's real fetch, its decompression and its timeouts are at work): bodies
 * past the cap, compressed or endless, and bodies that trickle past the request timeout.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { AcmeConnectionError, AcmeProtocolError, AcmeTransport } from "../../src/acme/index.ts";
import { serveFakeCa, type ServedFakeCa } from "../support/fake-ca-server.ts";

let served: ServedFakeCa | undefined;
afterEach(async () => {
  await served?.stop();
  served = undefined;
});

/** A stream of `chunk` repeated without end, or until cancelled. */
function endless(chunk: Uint8Array, delayMs = 0): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      if (delayMs > 0) await Bun.sleep(delayMs);
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** Answers GET /dir with a new body from `body()` each time. */
function directoryAnswer(body: () => BodyInit, headers: Record<string, string> = {}): (request: Request) => Response | undefined {
  return (request) => (new URL(request.url).pathname === "/dir" ? new Response(body(), { headers: { "content-type": "application/json", ...headers } }) : undefined);
}

describe("response bodies are read up to a cap", () => {
  test("a gzip bomb (64 MiB of zeros in 64 KiB) stops at the 4 MiB cap after decompression", async () => {
    const bomb = Bun.gzipSync(new Uint8Array(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(100 * 1024);
    served = serveFakeCa({ intercept: directoryAnswer(() => bomb, { "content-encoding": "gzip" }) });
    const transport = new AcmeTransport({ directoryUrl: served.directoryUrl });
    const error = await transport.getDirectory().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect((error as Error).message).toBe(`The CA's answer from ${served.directoryUrl} is larger than 4 MiB; stopped reading it there`);
  });

  test("an endless body stops at the cap the caller sets", async () => {
    served = serveFakeCa({ intercept: directoryAnswer(() => endless(new Uint8Array(65_536).fill(0x20))) });
    const transport = new AcmeTransport({ directoryUrl: served.directoryUrl, maxResponseBytes: 256 * 1024 });
    const error = await transport.getDirectory().catch((caught: unknown) => caught);
    expect((error as Error).message).toBe(`The CA's answer from ${served.directoryUrl} is larger than 256 KiB; stopped reading it there`);
  });
});

describe("a body that trickles past the request timeout", () => {
  test("is a connection failure naming the URL, retried like the others", async () => {
    served = serveFakeCa({ intercept: directoryAnswer(() => endless(new TextEncoder().encode(" "), 50)) });
    const transport = new AcmeTransport({
      directoryUrl: served.directoryUrl, requestTimeoutMs: 300, retry: { connectionRetries: 2, baseDelayMs: 1 },
    });
    const error = await transport.getDirectory().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AcmeConnectionError);
    expect((error as Error).message).toBe(`Cannot connect to ${served.directoryUrl}: the answer did not complete within 0.3 s`);
    expect(served.ca.requests.filter((request) => request === "GET /dir")).toHaveLength(3);
  });
});
