/**
 * The daemon's [admin] address scraped by a real Prometheus (Debian's), against a real Pebble:
 * Prometheus reads the exposition (`up` is 1) and holds each certificate's expiry as the served
 * leaf has it; promtool lints the text and tests the alert rules shipped in project/; `/healthz`
 * turns 503 when a certificate is within the configured margin of its expiry.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { ROOT } from "../support/client.ts";
import { configHead, startDaemonProcess, type DaemonProcess } from "../support/daemon.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

const ADMIN_PORT = 19_180;
const PROMETHEUS_PORT = 19_190;

let pebble: Pebble;
let upstream: ReturnType<typeof Bun.serve>;
let daemon: DaemonProcess;
let prometheus: ReturnType<typeof Bun.spawn> | undefined;
let dir: string;

function config(healthMargin: string): string {
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: join(dir, "store") })}
[admin]
hostname = "127.0.0.1"
port = ${ADMIN_PORT}
health_margin = "${healthMargin}"

[[site]]
names = ["app.metrics.test"]
upstream = "http://127.0.0.1:${upstream.port}"
`;
}

useLoopbackResolver();
beforeAll(async () => {
  pebble = await startPebble();
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello\n") });
  daemon = await startDaemonProcess({ config: (folder) => {
    dir = folder;
    return config("7d");
  } });
});
afterAll(async () => {
  prometheus?.kill();
  await prometheus?.exited;
  await daemon?.stop();
  await pebble?.stop();
  await upstream?.stop(true);
});

/** The leaf served for `name`: its expiry, as Unix seconds. */
function servedNotAfter(name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: 5001, servername: name, rejectUnauthorized: false }, () => {
      resolve(Date.parse(socket.getPeerCertificate().valid_to) / 1000);
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** One instant query against Prometheus' HTTP API: the samples' labels and values. */
async function query(expression: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const answer = await fetch(`http://127.0.0.1:${PROMETHEUS_PORT}/api/v1/query?query=${encodeURIComponent(expression)}`);
  const body = (await answer.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
  return body.status === "success" ? body.data.result : [];
}

describe("metrics and health on the daemon's [admin] address", () => {
  test("a real Prometheus scrapes it: up is 1, and it holds the served certificate's expiry and the order count", async () => {
    await fetch(`https://127.0.0.1:5001/`, { headers: { host: "app.metrics.test" }, tls: { rejectUnauthorized: false, serverName: "app.metrics.test" } });
    const prometheusDir = makeTempDir("prometheus");
    writeFileSync(join(prometheusDir, "prometheus.yml"), `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - ${join(ROOT, "project", "prometheus-alerts.yml")}
scrape_configs:
  - job_name: bun-acme
    static_configs:
      - targets: ["127.0.0.1:${ADMIN_PORT}"]
`);
    prometheus = Bun.spawn(["prometheus", `--config.file=${join(prometheusDir, "prometheus.yml")}`, `--storage.tsdb.path=${join(prometheusDir, "data")}`,
      `--web.listen-address=127.0.0.1:${PROMETHEUS_PORT}`], { stdout: "ignore", stderr: "pipe" });
    // Prometheus scrapes on its own schedule: its API is asked until the first scrape is in.
    let up: Awaited<ReturnType<typeof query>> = [];
    for (let attempt = 0; attempt < 300 && up.length === 0; attempt++) {
      up = await query('up{job="bun-acme"}').catch(() => []);
      if (up.length === 0) await Bun.sleep(100);
    }
    expect(up.map((sample) => sample.value[1])).toEqual(["1"]);
    let notAfter: Awaited<ReturnType<typeof query>> = [];
    for (let attempt = 0; attempt < 100 && notAfter.length === 0; attempt++) {
      notAfter = await query("bun_acme_certificate_not_after_seconds");
      if (notAfter.length === 0) await Bun.sleep(100);
    }
    expect(notAfter.length).toBe(1);
    expect(notAfter[0]!.metric).toMatchObject({ lineage: "app.metrics.test", names: "app.metrics.test", issuer: pebble.directoryUrl });
    expect(Number(notAfter[0]!.value[1])).toBe(await servedNotAfter("app.metrics.test"));
    const orders = await query("bun_acme_orders_total");
    expect(orders.map((sample) => [sample.metric.outcome, sample.value[1]])).toEqual([["obtained", "1"]]);
    const proxied = await query('bun_acme_proxied_responses_total{code="200"}');
    expect(Number(proxied[0]?.value[1] ?? 0)).toBeGreaterThanOrEqual(1);
  });

  test("promtool lints the exposition and passes the shipped alert rules' tests", async () => {
    const text = await (await fetch(`http://127.0.0.1:${ADMIN_PORT}/metrics`)).text();
    const lint = Bun.spawn(["promtool", "check", "metrics"], { stdin: new Blob([text]), stdout: "pipe", stderr: "pipe" });
    const [lintOut, lintErr] = await Promise.all([new Response(lint.stdout).text(), new Response(lint.stderr).text(), lint.exited]);
    expect(`${lintOut}${lintErr}`.trim()).toBe("");
    expect(lint.exitCode).toBe(0);
    const rules = Bun.spawn(["promtool", "test", "rules", join(ROOT, "tests", "metrics", "prometheus-alerts.test.yml")], { stdout: "pipe", stderr: "pipe" });
    const [rulesOut] = await Promise.all([new Response(rules.stdout).text(), rules.exited]);
    expect(rulesOut).toContain("SUCCESS");
    expect(rules.exitCode).toBe(0);
  });

  test("/healthz is 200 while the certificate is further than the margin from expiry, 503 naming it once the margin (reloaded) reaches it", async () => {
    const healthy = await fetch(`http://127.0.0.1:${ADMIN_PORT}/healthz`);
    expect(healthy.status).toBe(200);
    await daemon.reload(config("100000d"), (line) => line === "config reloaded: 1 site(s)", 30_000); // longer than any certificate Pebble issues
    const unhealthy = await fetch(`http://127.0.0.1:${ADMIN_PORT}/healthz`);
    expect(unhealthy.status).toBe(503);
    expect(await unhealthy.text()).toContain("app.metrics.test: expires ");
  });
});
