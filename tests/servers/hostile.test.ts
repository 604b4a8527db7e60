/**
 * The built-in HTTP(S) servers on real sockets under hostile and heavy traffic: odd paths and
 * methods, oversized requests, and 10,000 requests at 50 concurrent connections from ab
 * (ApacheBench, an independent client).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { Http01Solver } from "../../src/challenges/index.ts";
import { certificateHandler, serve, shutdownHandler, type RunningServer } from "../../src/servers/index.ts";
import { makeTlsMaterial } from "../support/pebble.ts";

setDefaultTimeout(60_000);

const token = "load-test-token_0123456789";
const solver = new Http01Solver();
let challengeServer: RunningServer;
let certificateServer: RunningServer;
let rootPem: string;

beforeAll(async () => {
  const tls = await makeTlsMaterial();
  rootPem = tls.rootPem;
  solver.present({ type: "dns", value: "load.test" }, { type: "http-01", url: "https://ca.test/c/1", status: "pending", token }, `${token}.thumbprint`);
  challengeServer = serve({ name: "http-01 challenge server", hostname: "127.0.0.1", port: 0, handler: (request) => solver.handle(request) });
  certificateServer = serve({
    name: "certificate HTTPS server",
    hostname: "127.0.0.1",
    port: 0,
    handler: certificateHandler,
    tls: { certificate: readFileSync(tls.certFile, "utf8"), privateKey: readFileSync(tls.keyFile, "utf8") },
  });
});
afterAll(async () => {
  await challengeServer?.stop();
  await certificateServer?.stop();
});

const challengeUrl = (path: string) => `http://127.0.0.1:${challengeServer.port}${path}`;

describe("hostile requests", () => {
  test("unknown paths 404, traversal attempts included; other methods 405", async () => {
    for (const path of ["/", "/etc/passwd", "/.well-known/acme-challenge/..%2F..%2Fetc%2Fpasswd", "/.well-known/acme-challenge/../../../etc/passwd"]) {
      expect((await fetch(challengeUrl(path))).status).toBe(404);
    }
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      expect((await fetch(challengeUrl(`/.well-known/acme-challenge/${token}`), { method })).status).toBe(405);
    }
    expect(await (await fetch(challengeUrl(`/.well-known/acme-challenge/${token}`))).text()).toBe(`${token}.thumbprint`);
  });

  test("an oversized body is refused with 413 and the server keeps serving", async () => {
    const response = await fetch(challengeUrl(`/.well-known/acme-challenge/${token}`), { method: "POST", body: new Uint8Array(1024 * 1024) });
    expect(response.status).toBe(413);
    expect((await fetch(challengeUrl(`/.well-known/acme-challenge/${token}`))).status).toBe(200);
  });

  test("oversized headers are refused and the server keeps serving", async () => {
    const outcome = await fetch(challengeUrl("/"), { headers: { "x-junk": "a".repeat(256 * 1024) } }).then((r) => r.status, () => "closed");
    expect(outcome === "closed" || (typeof outcome === "number" && outcome >= 400)).toBe(true);
    expect((await fetch(challengeUrl(`/.well-known/acme-challenge/${token}`))).status).toBe(200);
  });

  test("the HTTPS server answers GET / over a verified TLS connection, other paths 404", async () => {
    const url = `https://localhost:${certificateServer.port}`;
    expect((await fetch(`${url}/`, { tls: { ca: rootPem } })).status).toBe(200);
    expect((await fetch(`${url}/secret`, { tls: { ca: rootPem } })).status).toBe(404);
  });
});

/** Runs ab and returns its counters. */
async function apacheBench(url: string, requests: number, concurrency: number): Promise<{ complete: number; failed: number; non2xx: number; output: string }> {
  const child = Bun.spawn(["ab", "-q", "-k", "-n", String(requests), "-c", String(concurrency), "-s", "20", url], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const output = stdout + stderr;
  if (code !== 0) throw new Error(`ab failed (${code}): ${output}`);
  const number = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(output)?.[1] ?? "0");
  return { complete: number("Complete requests"), failed: number("Failed requests"), non2xx: number("Non-2xx responses"), output };
}

describe("load (ab, 10,000 requests, 50 concurrent connections)", () => {
  test("the http-01 challenge server answers every request", async () => {
    const result = await apacheBench(challengeUrl(`/.well-known/acme-challenge/${token}`), 10_000, 50);
    expect({ complete: result.complete, failed: result.failed, non2xx: result.non2xx }).toEqual({ complete: 10_000, failed: 0, non2xx: 0 });
  });

  test("the certificate HTTPS server answers every request", async () => {
    const result = await apacheBench(`https://127.0.0.1:${certificateServer.port}/`, 10_000, 50);
    expect({ complete: result.complete, failed: result.failed, non2xx: result.non2xx }).toEqual({ complete: 10_000, failed: 0, non2xx: 0 });
  });
});

describe("an HTTP/1.0 request without Host", () => {
  /** Sends `request` raw over TCP and returns the status line of the answer. */
  async function rawStatusLine(port: number, request: string): Promise<string> {
    const answer = Promise.withResolvers<string>();
    let text = "";
    await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write(request),
        data: (_socket, chunk) => void (text += chunk.toString()),
        close: () => answer.resolve(text),
        error: (_socket, error) => answer.reject(error),
      },
    });
    return (await answer.promise).split("\r\n")[0]!;
  }

  test("gets a proper answer from the http-01 server (200 for a known token, 404 otherwise), never 500", async () => {
    expect(await rawStatusLine(challengeServer.port, `GET /.well-known/acme-challenge/${token} HTTP/1.0\r\n\r\n`)).toBe("HTTP/1.1 200 OK");
    expect(await rawStatusLine(challengeServer.port, "GET /elsewhere HTTP/1.0\r\n\r\n")).toBe("HTTP/1.1 404 Not Found");
  });

  test("gets 200 from the shutdown server, which then shuts down", async () => {
    const called = Promise.withResolvers<string>();
    const shutdown = serve({ name: "shutdown server", hostname: "127.0.0.1", port: 0, handler: shutdownHandler(() => called.resolve("shut down")) });
    try {
      expect(await rawStatusLine(shutdown.port, "GET /shutdown HTTP/1.0\r\n\r\n")).toBe("HTTP/1.1 200 OK");
      expect(await called.promise).toBe("shut down");
    } finally {
      await shutdown.stop();
    }
  });
});
