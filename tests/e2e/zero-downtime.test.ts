/**
 * The compiled daemon as the front door of a site, with clients that never retry (Python's http.client:
 * keep-alive GETs, a new connection per GET, keep-alive POSTs; tests/support/http_load.py),
 * against a real Pebble issuing 20-second certificates: renewals swapped in, a SIGHUP that adds a
 * site, and a SIGHUP whose configuration cannot start (a `ca` file that does not exist); and the
 * same renewals under manage() with the HTTPS server it makes itself. Each
 * counts failed requests, and each must see none. The kernel's net.ipv4.tcp_migrate_req is
 * whatever the host has (0 on most hosts): the daemon must not depend on it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { manage } from "../../src/manage/index.ts";
import { FileCertificateStore } from "../../src/store/index.ts";
import { configHead, expectNoFailedRequest, loadAcrossRenewals, startDaemonProcess, type DaemonProcess } from "../support/daemon.ts";
import { startHttpLoad, type HttpLoad } from "../support/http-load.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let issuingRoot: string;
let upstream: ReturnType<typeof Bun.serve>;
let daemon: DaemonProcess;
let store: string;
useLoopbackResolver(); // before the daemon starts: Pebble resolves the test names through it
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: 20 } });
  issuingRoot = await (await pebble.management("/roots/0")).text();
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request, server) => {
      if (request.headers.get("upgrade") === "websocket" && server.upgrade(request, { data: undefined })) return undefined;
      return new Response(request.method === "POST" ? `received ${(await request.arrayBuffer()).byteLength}\n` : "hello\n");
    },
    websocket: { message: (socket, message) => void socket.send(`echo: ${message}`) },
  });
});
afterAll(async () => {
  await pebble?.stop();
  await upstream?.stop(true);
});
function config(options: { extraSite?: boolean; ca?: string } = {}): string {
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: options.ca ?? pebble.tlsRootFile, store })}
[[site]]
names = ["app.zero.test"]
upstream = "http://127.0.0.1:${upstream.port}"
${options.extraSite ? `\n[[site]]\nnames = ["added.zero.test"]\nupstream = "http://127.0.0.1:${upstream.port}"\n` : ""}`;
}

function load(): Promise<HttpLoad> {
  return startHttpLoad({ port: 5001, name: "app.zero.test", caPem: issuingRoot, keepAlive: 4, newConnections: 4, posts: 2 });
}

/** curl, which does not retry: the status of one GET for `name`, verified against Pebble's root. */
async function curlStatus(name: string): Promise<string> {
  const caFile = join(makeTempDir("curl-ca"), "root.pem");
  writeFileSync(caFile, issuingRoot);
  const curl = Bun.spawn(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", caFile, "--resolve", `${name}:5001:127.0.0.1`, `https://${name}:5001/`], { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(curl.stdout).text(), curl.exited]);
  return out.trim();
}

describe("serve --config under load from clients that do not retry", () => {
  beforeAll(async () => {
    daemon = await startDaemonProcess({ config: (dir) => {
      store = join(dir, "store");
      return config();
    } });
  });
  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
  });

  test("two renewals of 20-second certificates swapped in: no failed request, three certificates seen", async () => {
    const seen = await loadAcrossRenewals(daemon, { name: "app.zero.test", caPem: issuingRoot });
    expectNoFailedRequest(seen, { moreThan: 100, serials: 3 });
  });

  test("SIGHUP that adds a site: the new site is served, no request to the running one fails", async () => {
    const running = await load();
    await daemon.reload(config({ extraSite: true }), (line) => line === "config reloaded: 2 site(s)");
    expect(await curlStatus("added.zero.test")).toBe("200");
    expectNoFailedRequest(await running.stop(), { moreThan: 0 });
  });

  test("HTTP/2 to clients that offer h2 (curl --http2), HTTP/1.1 to the others", async () => {
    const caFile = join(makeTempDir("curl-ca"), "root.pem");
    writeFileSync(caFile, issuingRoot);
    const version = async (flag: string) => {
      const curl = Bun.spawn(["curl", "-s", flag, "-o", "/dev/null", "-w", "%{http_version} %{http_code}", "--cacert", caFile, "--resolve", "app.zero.test:5001:127.0.0.1", "https://app.zero.test:5001/"], { stdout: "pipe" });
      const [out] = await Promise.all([new Response(curl.stdout).text(), curl.exited]);
      return out.trim();
    };
    expect(await version("--http2")).toBe("2 200");
    expect(await version("--http1.1")).toBe("1.1 200");
  });

  test("a WebSocket through the daemon reaches the upstream: messages both ways, and it survives a renewal", async () => {
    const socket = new WebSocket("wss://127.0.0.1:5001/ws", { headers: { host: "app.zero.test" }, tls: { ca: issuingRoot, serverName: "app.zero.test" } } as unknown as string[]);
    const messages: string[] = [];
    const next = () => new Promise<string>((resolve, reject) => {
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onclose = (event) => reject(new Error(`closed ${event.code} ${event.reason}`));
    });
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("the WebSocket did not open"));
    });
    let answer = next();
    socket.send("one");
    messages.push(await answer);
    await daemon.stdout.waitFor((line) => line.startsWith("app.zero.test: renewed ("), 40_000, daemon.stdout.count);
    answer = next();
    socket.send("two"); // the same connection, after the certificate it shook hands with was replaced
    messages.push(await answer);
    socket.close();
    expect(messages).toEqual(["echo: one", "echo: two"]);
  });

  test("SIGHUP with a ca file that does not exist: one line, the running configuration keeps serving, nothing fails", async () => {
    const running = await load();
    const missing = join(makeTempDir("missing-ca"), "nope.pem");
    const line = await daemon.reload(config({ extraSite: true, ca: missing }), (candidate) => candidate.startsWith("config not reloaded"), 15_000);
    expect(line).toContain(missing);
    expect(line.split("\n").length).toBe(1);
    expect(await curlStatus("added.zero.test")).toBe("200");
    expect(await curlStatus("app.zero.test")).toBe("200");
    const seen = await running.stop();
    expect(seen.errors).toEqual({});
    expect(seen.failed).toBe(0);
    expect(await Promise.race([daemon.exited, Bun.sleep(0).then(() => "running")])).toBe("running");
  });
});

describe("manage() under load from clients that do not retry", () => {
  test("two renewals of 20-second certificates swapped in by its own HTTPS server: no failed request, three certificates seen; its admin address counts them", async () => {
    const renewals: string[] = [];
    const second = Promise.withResolvers<void>();
    const managed = await manage({
      certificates: [["app.manage-zero.test"]],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      store: new FileCertificateStore(makeTempDir("manage-zero")),
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 5002 },
      fetch: async (request) => new Response(request.method === "POST" ? `received ${(await request.arrayBuffer()).byteLength}\n` : "hello\n"),
      retry: { baseDelayMs: 500, maxDelayMs: 4_000 },
      admin: { port: 19_181, healthMarginMs: 1_000 },
      onEvent: (event) => {
        if (event.type !== "renewed") return;
        renewals.push(event.serial!);
        if (renewals.length === 2) second.resolve();
      },
    });
    try {
      const running = await startHttpLoad({ port: managed.port, name: "app.manage-zero.test", caPem: issuingRoot, keepAlive: 4, newConnections: 4, posts: 2 });
      await second.promise;
      // The second renewal's event comes before its swap reaches new connections: the clients go on until they met it.
      await running.seenSerials(3, 10_000);
      expectNoFailedRequest(await running.stop(), { moreThan: 100, serials: 3 });
      // Its admin address tells the same story: the obtained certificate, two renewals, each swapped in.
      const metrics = await (await fetch("http://127.0.0.1:19181/metrics")).text();
      expect(metrics).toContain('bun_acme_orders_total{outcome="obtained"} 1\n');
      expect(Number(/bun_acme_orders_total\{outcome="renewed"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
      expect(Number(/bun_acme_certificate_swaps_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
      expect(metrics).toContain('bun_acme_certificate_not_after_seconds{lineage="app.manage-zero.test",names="app.manage-zero.test",issuer="');
      expect((await fetch("http://127.0.0.1:19181/healthz")).status).toBe(200);
    } finally {
      await managed.stop();
    }
  });
});
