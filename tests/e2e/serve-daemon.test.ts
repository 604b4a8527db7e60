/**
 * The daemon, `bun-acme serve --config FILE`, as a user runs it, against a real Pebble: a proxied
 * site and a renew-only site with a deploy hook, the http-01 server's redirect, SIGHUP with a broken
 * and then a grown configuration, SIGTERM; and configurations refused at start.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RedisCertificateStore } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";
import { configHead, startDaemonProcess } from "../support/daemon.ts";
import { eventLines } from "../support/events.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { startRedis } from "../support/redis.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

let pebble: Pebble;
let issuingRoot: string;
let upstream: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  pebble = await startPebble();
  issuingRoot = await (await pebble.management("/roots/0")).text();
  upstream = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => Response.json({
      path: new URL(request.url).pathname + new URL(request.url).search,
      proto: request.headers.get("x-forwarded-proto"),
      host: request.headers.get("x-forwarded-host"),
      for: request.headers.get("x-forwarded-for"),
    }),
  });
});
afterAll(async () => {
  await pebble?.stop();
  await upstream?.stop(true);
});
useLoopbackResolver();

function config(store: string, hookFile: string, extra = ""): string {
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store })}
[[site]]
names = ["app.serve.test", "www.app.serve.test"]
upstream = "http://127.0.0.1:${upstream.port}"

[[site]]
names = ["mail.serve.test"]
deploy_hook = "printf '%s|%s' \\"$RENEWED_LINEAGE\\" \\"$RENEWED_DOMAINS\\" > ${hookFile}"
${extra}`;
}

/** GET over HTTPS for `name` (SNI and Host), verified against Pebble's root. */
async function get(name: string, path = "/"): Promise<Response> {
  return fetch(`https://127.0.0.1:5001${path}`, { headers: { host: name }, tls: { ca: issuingRoot, serverName: name } });
}

/** The HTTP port's answer to curl for `host`: status and Location. */
async function curlRedirect(host: string): Promise<string> {
  const child = Bun.spawn(["curl", "-s", "-o", "/dev/null", "--max-time", "10", "-H", `Host: ${host}`, "-w", "%{http_code} %{redirect_url}", "http://127.0.0.1:5002/x"], { stdout: "pipe" });
  return new Response(child.stdout).text();
}

describe("bun-acme serve --config", () => {
  test("serves the proxied site, renews the other with its hook, redirects HTTP, reloads on SIGHUP, drains on SIGTERM", async () => {
    let store = "";
    let hookFile = "";
    const daemon = await startDaemonProcess({ config: (dir) => {
      store = join(dir, "store");
      hookFile = join(dir, "deployed");
      return config(store, hookFile);
    } });
    const file = daemon.file;
    try {
      const answer = await get("www.app.serve.test", "/hello?x=1");
      expect(answer.status).toBe(200);
      expect(await answer.json()).toEqual({ path: "/hello?x=1", proto: "https", host: "www.app.serve.test", for: "127.0.0.1" });
      expect((await get("mail.serve.test").catch((error: Error) => error)) instanceof Error).toBe(true); // not served: the placeholder fails verification
      expect(readFileSync(hookFile, "utf8")).toBe(`${join(store, "certificates", "mail.serve.test")}|mail.serve.test`);
      const redirect = await fetch("http://127.0.0.1:5002/page?y", { headers: { host: "app.serve.test" }, redirect: "manual" });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get("location")).toBe("https://app.serve.test:5001/page?y");
      // Only served names are redirected (curl: the Host goes out exactly as written).
      expect(await curlRedirect("evil.example")).toBe("421 ");
      expect(await curlRedirect("mail.serve.test")).toBe("421 "); // renewed here, served elsewhere
      expect(await curlRedirect("a@evil.example")).toBe("400 ");
      expect(await curlRedirect("app.serve.test@evil.example")).toBe("400 ");
      expect(await curlRedirect("APP.serve.test.")).toBe("308 https://app.serve.test:5001/x");

      const rejected = await daemon.reload(`${config(store, hookFile)}\nbogus = true\n`, (line) => line.startsWith("config not reloaded"), 10_000);
      expect(rejected).toBe(`config not reloaded, the running one stays: ${file}:18: unknown key "bogus" in site 2 (allowed: names, upstream, deploy_hook, deploy_hook_timeout, connect_timeout, response_header_timeout, max_requests, on_demand)`);
      expect((await get("app.serve.test")).status).toBe(200);

      await daemon.reload(config(store, hookFile, `\n[[site]]\nnames = ["new.serve.test"]\nupstream = "http://127.0.0.1:${upstream.port}"\n`), (line) => line === "config reloaded: 3 site(s)");
      expect((await (await get("new.serve.test", "/added")).json()).path).toBe("/added");
      expect((await get("app.serve.test")).status).toBe(200);

      expect(await daemon.stop()).toBe(0);
      await daemon.stdout.done;
      expect(daemon.stdout.text().trim().split("\n").at(-1)).toBe("stopped");
      expect(daemon.stderr.text()).toBe("");
    } finally {
      daemon.kill();
    }
  });

  test("store = a redis:// URL: the daemon obtains into Redis and serves from it", async () => {
    const redis = await startRedis(16381);
    const store = new RedisCertificateStore(redis.url);
    const daemon = await startDaemonProcess({
      config: configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: redis.url }) +
        `[[site]]\nnames = ["redis.serve.test"]\nupstream = "http://127.0.0.1:${upstream.port}"\n`,
    }).catch(async (error: unknown) => {
      store.close();
      await redis.stop();
      throw error;
    });
    try {
      expect(daemon.stdout.text()).toContain(`renewed in the Redis store ${redis.url}/bun-acme:`);
      expect((await get("redis.serve.test")).status).toBe(200);
      expect(await store.list()).toEqual(["redis.serve.test"]);
      expect(await daemon.stop()).toBe(0);
    } finally {
      daemon.kill();
      store.close();
      await redis.stop();
    }
  });

  test("access_log with --json: every line an event (serving, obtained, request, stopped); a down upstream gets a 502 naming nothing internal, its cause on the daemon's output", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const closedPort = closed.port;
    closed.stop(true);
    const daemon = await startDaemonProcess({
      json: true,
      config: (dir) => configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: join(dir, "store"), top: "access_log = true\n" }) +
        `[[site]]\nnames = ["down.serve.test"]\nupstream = "http://127.0.0.1:${closedPort}"\nconnect_timeout = 1\n`,
    });
    const dir = daemon.dir;
    try {
      const answer = await get("down.serve.test", "/x?y");
      expect(answer.status).toBe(502);
      const text = await answer.text();
      expect(text).not.toContain(String(closedPort));
      expect(text).not.toContain("127.0.0.1");
      const line = await daemon.stdout.waitFor((candidate) => candidate.includes(`"event":"request"`), 10_000);
      expect(JSON.parse(line)).toMatchObject({ event: "request", method: "GET", host: "down.serve.test", target: "/x?y", status: 502, error: "upstream_error", client: "127.0.0.1" });
      expect(await daemon.stop()).toBe(0);
      await daemon.stdout.done;
      const events = eventLines(daemon.stdout.text());
      expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(["obtained", "next_renewal", "serving", "request"]));
      expect(events.at(-1)!.type).toBe("stopped");
      const stored = JSON.parse(readFileSync(join(dir, "store", "certificates", "down.serve.test", "metadata.json"), "utf8")) as { serial: string };
      expect(events.find((event) => event.type === "obtained")).toMatchObject({ lineage: "down.serve.test", names: ["down.serve.test"], ca: pebble.directoryUrl, serial: stored.serial });
      expect(events.find((event) => event.type === "serving")).toMatchObject({ hostname: "127.0.0.1", port: 5001, sites: 1, served: 1 });
    } finally {
      daemon.kill();
    }
  });

  test.each([
    ["an unknown key", `directory = "letsencrypt"\n[[site]]\nnames = ["a.test"]\nupstreem = "http://x"\n`, ':4: unknown key "upstreem" in site 1 (allowed: names, upstream, deploy_hook, deploy_hook_timeout, connect_timeout, response_header_timeout, max_requests, on_demand)'],
    ["a duplicate name", `directory = "letsencrypt"\n[[site]]\nnames = ["a.test"]\n[[site]]\nnames = ["b.test", "A.test"]\n`, ':5: site 2: "a.test" is already in site 1'],
    ["an invalid name", `directory = "letsencrypt"\n[[site]]\nnames = ["bad_name!.test"]\n`, ":3: site 1: "],
    ["broken TOML", `directory = "letsencrypt"\n[[site]]\nnames = ["a.test",\n`, ":3: not valid TOML: Unterminated array; expected ']'"],
  ])("%s is refused at start: exit 2, the file and line named", async (_, text, expected) => {
    const file = join(makeTempDir("bun-acme-daemon-bad-"), "serve.toml");
    writeFileSync(file, text);
    const result = await runClient(["serve", "--config", file]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toStartWith(`bun-acme: error: ${file}${expected}`);
    expect(existsSync(join(file, "..", "store"))).toBe(false);
  });
});
