/**
 * The compiled daemon proving names with tls-alpn-01 (RFC 8737) on its public HTTPS port, against
 * a real Pebble (whose tls-alpn-01 validations go to port 5001, the daemon's HTTPS port; the HTTP
 * port is elsewhere, so nothing could be proven by http-01). The listener reads each ClientHello:
 * `acme-tls/1` goes to the validation responder, everything else to the HTTPS server, which keeps
 * HTTP/2 and its swaps without a failed request. With `[on_demand]`, a name is obtained by
 * tls-alpn-01 during its own first handshake.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configHead, expectNoFailedRequest, loadAcrossRenewals, startDaemonProcess, type DaemonProcess } from "../support/daemon.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let issuingRoot: string;
let rootFile: string;
let upstream: ReturnType<typeof Bun.serve>;
let ask: ReturnType<typeof Bun.serve>;

useLoopbackResolver();
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: 20 } });
  issuingRoot = await (await pebble.management("/roots/0")).text();
  rootFile = join(makeTempDir("tls-alpn-root"), "root.pem");
  writeFileSync(rootFile, issuingRoot);
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request) => {
      if (new URL(request.url).pathname === "/xff") return new Response(`${request.headers.get("x-forwarded-for")}\n`);
      return new Response(request.method === "POST" ? `received ${(await request.arrayBuffer()).byteLength}\n` : "hello\n");
    },
  });
  ask = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(null, { status: new URL(request.url).searchParams.get("domain")?.startsWith("yes") ? 200 : 403 }) });
});
afterAll(async () => {
  await pebble?.stop();
  await upstream?.stop(true);
  await ask?.stop(true);
});

function config(dir: string, onDemand: boolean): string {
  const top = `challenge = "tls-alpn-01"\n${onDemand ? `\n[on_demand]\nask = "http://127.0.0.1:${ask.port}/check"\n` : ""}`;
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: join(dir, "store"), top, http: 18480 })}
[[site]]
names = ["alpn.daemon.test"]
upstream = "http://127.0.0.1:${upstream.port}"
${onDemand ? `\n[[site]]\non_demand = true\nnames = ["*.alpn.daemon.test"]\nupstream = "http://127.0.0.1:${upstream.port}"\n` : ""}`;
}

function start(onDemand: boolean): Promise<DaemonProcess> {
  return startDaemonProcess({ config: (dir) => config(dir, onDemand) });
}

async function stop(daemon: DaemonProcess): Promise<void> {
  expect(await daemon.stop()).toBe(0);
}

/** curl (no retries): HTTP version, status and body for `name`, verified against Pebble's root. */
async function curl(name: string, flag = "--http2", path = "/", from = "127.0.0.1"): Promise<string> {
  const child = Bun.spawn(["curl", "-s", flag, "--interface", from, "-w", " %{http_version} %{http_code}", "--cacert", rootFile, "--resolve", `${name}:5001:127.0.0.1`, `https://${name}:5001${path}`], { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return out.trim();
}

/**
 * Authorizations Pebble found valid so far. Its log does not name the challenge type; here only
 * tls-alpn-01 can succeed: its validations go to port 5001, nothing answers http-01 on 5002 (the
 * daemon's HTTP port is 18480) and the test resolver has no TXT records for dns-01.
 */
const validAuthorizations = () => pebble.log().split("\n").filter((line) => line.includes("set VALID by completed challenge")).length;

describe("serve --config with challenge = \"tls-alpn-01\"", () => {
  test("a listed site obtained by tls-alpn-01 on the HTTPS port, served over HTTP/2; clients that never retry cross two renewals without a failure", async () => {
    const daemon = await start(false);
    try {
      await daemon.stdout.waitFor((line) => line.startsWith("alpn.daemon.test: obtained"), 30_000);
      expect(validAuthorizations()).toBeGreaterThan(0);
      expect(await curl("alpn.daemon.test")).toBe("hello\n 2 200");
      expect(await curl("alpn.daemon.test", "--http1.1")).toBe("hello\n 1.1 200");
      // Behind the router the upstream still learns the client's address (curl from 127.0.0.5), not the router's.
      expect(await curl("alpn.daemon.test", "--http2", "/xff", "127.0.0.5")).toBe("127.0.0.5\n 2 200");
      const seen = await loadAcrossRenewals(daemon, { name: "alpn.daemon.test", caPem: issuingRoot });
      expectNoFailedRequest(seen, { moreThan: 100, serials: 3 });
    } finally {
      await stop(daemon);
    }
  });

  test("with [on_demand]: an allowed name is obtained by tls-alpn-01 during its own first handshake", async () => {
    const daemon = await start(true);
    try {
      const before = validAuthorizations();
      expect(await curl("yes.alpn.daemon.test", "--http1.1")).toBe("hello\n 1.1 200");
      expect(await curl("yes.alpn.daemon.test", "--http1.1", "/xff", "127.0.0.6")).toBe("127.0.0.6\n 1.1 200"); // through the router and the node:tls front
      expect(validAuthorizations()).toBeGreaterThan(before);
      expect(daemon.stdout.text()).toContain("yes.alpn.daemon.test: obtained");
    } finally {
      await stop(daemon);
    }
  });
});
