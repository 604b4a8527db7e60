/**
 * The compiled daemon with `[on_demand]` (Caddy's `on_demand_tls`) against a real Pebble and a
 * real ask endpoint (a Bun.serve on loopback answering 200 for names
 * starting with "yes", 403 for the others). Independent checkers: openssl s_client (verifying the
 * chain and the name) and curl. A refused name gets a TLS alert and never reaches the CA: Pebble's
 * log counts the orders. Clients that never retry (tests/support/http_load.py) cross a renewal of
 * an on-demand certificate. Configuration mistakes are one line, exit 2; on SIGHUP, one line and
 * the running configuration kept.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { configHead, DAEMON_EXECUTABLE, expectNoFailedRequest, loadAcrossRenewals, startDaemonProcess, type DaemonProcess } from "../support/daemon.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

const EXECUTABLE = DAEMON_EXECUTABLE;
let pebble: Pebble;
let issuingRoot: string;
let rootFile: string;
let upstream: ReturnType<typeof Bun.serve>;
let ask: ReturnType<typeof Bun.serve>;
const asked: string[] = [];
let daemon: DaemonProcess;
let file: string;
let dir: string;

useLoopbackResolver(); // Pebble resolves every test name to 127.0.0.1 through it
beforeAll(() => {
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (request, server) => {
      if (request.headers.get("upgrade") === "websocket" && server.upgrade(request, { data: undefined })) return undefined;
      return new Response(request.method === "POST" ? `received ${(await request.arrayBuffer()).byteLength}\n` : `hello ${request.headers.get("host")}\n`);
    },
    websocket: { message: (socket, message) => void socket.send(`echo: ${message}`) },
  });
  ask = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      const domain = new URL(request.url).searchParams.get("domain") ?? "";
      asked.push(domain);
      return new Response(null, { status: domain.startsWith("yes") ? 200 : 403 });
    },
  });
});
afterAll(async () => {
  await upstream?.stop(true);
  await ask?.stop(true);
});

/** A Pebble for the enclosing describe block, and the daemon on `config()`, started and stopped with it. */
function useDaemon(certificateValidityPeriod: number, maxPerMinute?: number): void {
  beforeAll(async () => {
    pebble = await startPebble({ config: { certificateValidityPeriod } });
    issuingRoot = await (await pebble.management("/roots/0")).text();
    rootFile = join(makeTempDir("on-demand-root"), "root.pem");
    writeFileSync(rootFile, issuingRoot);
    daemon = await startDaemonProcess({ config: (folder) => {
      dir = folder;
      return config({ ...(maxPerMinute ? { maxPerMinute } : {}) });
    } });
    file = daemon.file;
  });
  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
    await pebble?.stop();
  });
}

function config(options: { ask?: string; onDemand?: string; maxPerMinute?: number } = {}): string {
  const onDemand = options.onDemand ?? `[on_demand]\nask = "${options.ask ?? `http://127.0.0.1:${ask.port}/check`}"\nmax_per_minute = ${options.maxPerMinute ?? 5}`;
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: join(dir, "store"), top: `\n${onDemand}\n` })}
[[site]]
names = ["listed.od.test"]
upstream = "http://127.0.0.1:${upstream.port}"

[[site]]
on_demand = true
upstream = "http://127.0.0.1:${upstream.port}"
`;
}

/** Orders Pebble has received so far. */
const ordersAtPebble = () => pebble.log().split("\n").filter((line) => line.includes("POST /order-plz")).length;

/** openssl s_client's handshake for `name`, verifying the chain against Pebble's root and the name. */
async function handshake(name: string): Promise<{ code: number; output: string }> {
  const child = Bun.spawn(["openssl", "s_client", "-connect", "127.0.0.1:5001", "-servername", name, "-CAfile", rootFile, "-verify_hostname", name, "-verify_return_error"],
    { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, output: out + err };
}

/** curl (no retries): status and body of one GET for `name`, verified against Pebble's root. */
async function curl(name: string): Promise<string> {
  const child = Bun.spawn(["curl", "-s", "-w", " %{http_code}", "--cacert", rootFile, "--resolve", `${name}:5001:127.0.0.1`, `https://${name}:5001/`], { stdout: "pipe", stderr: "pipe" });
  const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return out.trim();
}

describe("serve --config with [on_demand]", () => {
  useDaemon(86_400); // no renewal during a test: Pebble's order count moves only for what the test does

  test("a name the ask endpoint allows gets a certificate during its first handshake: openssl verifies it, curl reaches the upstream", async () => {
    const before = ordersAtPebble();
    const first = await handshake("yes-one.od.test");
    expect(first.output).toContain("Verify return code: 0 (ok)");
    expect(first.code).toBe(0);
    expect(asked).toContain("yes-one.od.test");
    expect(ordersAtPebble()).toBe(before + 1);
    expect(await curl("yes-one.od.test")).toBe("hello yes-one.od.test:5001\n 200");
    expect(ordersAtPebble()).toBe(before + 1); // the second handshake finds it
    expect(await curl("listed.od.test")).toBe("hello listed.od.test:5001\n 200"); // the listed site, served as before
  });

  test("a name the ask endpoint refuses gets a TLS alert and never reaches the CA; asked again, the endpoint is not (the answer is remembered)", async () => {
    const before = ordersAtPebble();
    const refused = await handshake("no-one.od.test");
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain("alert internal error"); // an alert, not a bare close
    expect(refused.output).toContain("no peer certificate available");
    expect(asked.filter((name) => name === "no-one.od.test")).toEqual(["no-one.od.test"]);
    expect((await handshake("no-one.od.test")).code).not.toBe(0);
    expect(asked.filter((name) => name === "no-one.od.test")).toHaveLength(1);
    expect(ordersAtPebble()).toBe(before);
    expect(daemon.stdout.text()).not.toContain("no-one.od.test");
  });

  test("a WebSocket to an on-demand name goes through the node:tls front to the upstream, messages both ways", async () => {
    const socket = new WebSocket("wss://127.0.0.1:5001/ws", { headers: { host: "yes-one.od.test" }, tls: { ca: issuingRoot, serverName: "yes-one.od.test" } } as unknown as string[]);
    const answer = new Promise<string>((resolve, reject) => {
      socket.onmessage = (event) => resolve(String(event.data));
      socket.onclose = (event) => reject(new Error(`closed ${event.code} ${event.reason}`));
    });
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("the WebSocket did not open"));
      setTimeout(() => reject(new Error("the WebSocket did not open in 10 s")), 10_000).unref();
    });
    socket.send("one");
    expect(await Promise.race([answer, Bun.sleep(10_000).then(() => "no answer in 10 s")])).toBe("echo: one");
    socket.close();
  });

  test("the HTTP port redirects an on-demand name only once ask allows it (never an open redirect)", async () => {
    const redirect = async (host: string) => {
      const child = Bun.spawn(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-H", `Host: ${host}`, "http://127.0.0.1:5002/path?q=1"], { stdout: "pipe" });
      const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      return out.trim();
    };
    expect(await redirect("yes-one.od.test")).toBe("308 https://yes-one.od.test:5001/path?q=1");
    expect(await redirect("no-redirect.od.test")).toBe("421");
    expect(asked).toContain("no-redirect.od.test");
  });

  test("SIGHUP with an ask that is not an http(s) URL: one line, the running configuration keeps serving", async () => {
    const line = await daemon.reload(config({ ask: "ftp://127.0.0.1/check" }), (candidate) => candidate.startsWith("config not reloaded"), 15_000);
    expect(line).toBe(`config not reloaded, the running one stays: ${file}:6: [on_demand] ask must be an http:// or https:// URL, e.g. ask = "http://127.0.0.1:9123/check"`);
    expect(await curl("yes-one.od.test")).toBe("hello yes-one.od.test:5001\n 200");
    expect((await handshake("yes-after-hup.od.test")).code).toBe(0); // on demand still, with the running ask
  });

  test("SIGHUP with another ask endpoint: its decisions apply at once; a name obtained before is served from the store, not ordered again", async () => {
    expect((await handshake("hup-one.od.test")).code).not.toBe(0); // the first endpoint refuses hup-*
    const second = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => new Response(null, { status: /^(yes|hup)/.test(new URL(request.url).searchParams.get("domain") ?? "") ? 200 : 403 }) });
    try {
      await daemon.reload(config({ ask: `http://127.0.0.1:${second.port}/check` }), (line) => line.startsWith("config reloaded"), 30_000);
      const before = ordersAtPebble();
      expect(await curl("yes-one.od.test")).toBe("hello yes-one.od.test:5001\n 200");
      expect(ordersAtPebble()).toBe(before);
      expect((await handshake("hup-two.od.test")).output).toContain("Verify return code: 0 (ok)");
      expect(ordersAtPebble()).toBe(before + 1);
    } finally {
      await second.stop(true);
    }
  });

  test("SIGHUP that drops [on_demand]: one line saying a restart is needed, the running configuration kept", async () => {
    const line = await daemon.reload(config({ onDemand: "" }).replace(/\n\[\[site\]\]\non_demand = true\n.*\n$/, "\n"), (candidate) => candidate.startsWith("config not reloaded"), 15_000);
    expect(line).toBe("config not reloaded, the running one stays: [on_demand] turned off: that changes the HTTPS server on port 5001 (node:tls front or Bun.serve); restart the daemon to apply it");
    expect(await curl("listed.od.test")).toBe("hello listed.od.test:5001\n 200");
  });
});

describe("serve --config with [on_demand], 20-second certificates", () => {
  useDaemon(20);

  test("clients that never retry, across a renewal of the on-demand certificate (the front picks per handshake): no failed request", async () => {
    expect((await handshake("yes-load.od.test")).code).toBe(0);
    const seen = await loadAcrossRenewals(daemon, { name: "yes-load.od.test", caPem: issuingRoot });
    expectNoFailedRequest(seen, { moreThan: 100, serials: 3 });
  });
});

describe("serve --config with [on_demand], max_per_minute = 2", () => {
  useDaemon(86_400, 2);

  test("the third new name within a minute is refused once ask allowed it, before the CA, and the daemon says why", async () => {
    const before = ordersAtPebble();
    expect((await handshake("yes-budget-1.od.test")).code).toBe(0);
    expect((await handshake("yes-budget-2.od.test")).code).toBe(0);
    const third = await handshake("yes-budget-3.od.test");
    expect(third.code).not.toBe(0);
    expect(third.output).toContain("no peer certificate available");
    expect(ordersAtPebble()).toBe(before + 2);
    // ask is asked first (a stranger's name costs no share of the budget); the budget then refuses it.
    expect(asked).toContain("yes-budget-3.od.test");
    expect(daemon.stdout.text()).toContain("warning: yes-budget-3.od.test: on demand: yes-budget-3.od.test refused, 2 certificates already ordered on demand this minute");
  });
});

describe("serve --config with [on_demand] mistakes: one line, exit 2, nothing started", () => {
  beforeAll(async () => {
    pebble = await startPebble(); // named in the file only: nothing is asked of it
    dir = makeTempDir("serve-on-demand-errors");
  });
  afterAll(() => pebble?.stop());

  test("on_demand = true without [on_demand] ask", async () => {
    file = join(dir, "no-ask.toml");
    writeFileSync(file, config({ onDemand: "" }));
    const run = await runClient(["serve", "--config", file], { executable: EXECUTABLE });
    expect(run.stderr.trim()).toBe(`bun-acme: error: ${file}:17: on_demand = true needs [on_demand] with ask = "http://..." (an endpoint that answers 2xx for the names you allow): without it anyone could make you order certificates`);
    expect(run.code).toBe(2);
  });

  test("[on_demand] without ask", async () => {
    file = join(dir, "empty-ask.toml");
    writeFileSync(file, config({ onDemand: "[on_demand]\nmax_per_minute = 5" }));
    const run = await runClient(["serve", "--config", file], { executable: EXECUTABLE });
    expect(run.stderr.trim()).toBe(`bun-acme: error: ${file}:5: [on_demand] needs ask = "http://..." (an endpoint that answers 2xx for the names you allow): without it anyone could make you order certificates`);
    expect(run.code).toBe(2);
  });

  test("ask not an http(s) URL", async () => {
    file = join(dir, "bad-ask.toml");
    writeFileSync(file, config({ ask: "127.0.0.1:9123/check" }));
    const run = await runClient(["serve", "--config", file], { executable: EXECUTABLE });
    expect(run.stderr.trim()).toBe(`bun-acme: error: ${file}:6: [on_demand] ask must be an http:// or https:// URL, e.g. ask = "http://127.0.0.1:9123/check"`);
    expect(run.code).toBe(2);
  });
});
