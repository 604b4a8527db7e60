/**
 * The daemon proving names with dns-01 on a real name server: `challenge = "dns-01"` and
 * `[rfc2136]` with a TSIG key file, against BIND 9 (the zone example.test, updates allowed for the
 * key) and Pebble resolving through it. A wildcard site is obtained and served; a configuration
 * that mixes the means, or names a key file that does not exist, is refused in one line.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { runClient } from "../support/client.ts";
import { configHead, startDaemonProcess } from "../support/daemon.ts";
import { startBind, type Bind } from "../support/bind.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

const PORT = 15364;
let bind: Bind;
let pebble: Pebble;
let issuingRoot: string;
let upstream: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  bind = await startBind(PORT, { recursion: true });
  pebble = await startPebble({ dnsServer: `127.0.0.1:${PORT}` });
  issuingRoot = await (await pebble.management("/roots/0")).text();
  upstream = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("hello\n") });
});
afterAll(async () => {
  await pebble?.stop();
  await bind?.stop();
  await upstream?.stop(true);
});

function config(dir: string, dns: string): string {
  return `${configHead({ directoryUrl: pebble.directoryUrl, caFile: pebble.tlsRootFile, store: join(dir, "store"), top: `challenge = "dns-01"\n${dns}\n` })}
[[site]]
names = ["*.daemon.example.test", "daemon.example.test"]
upstream = "http://127.0.0.1:${upstream.port}"
`;
}

/** The names of the leaf served for `servername`, and whether it verifies against Pebble's root. */
function served(servername: string): Promise<{ names: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port: 5001, servername, ca: issuingRoot }, () => {
      resolve({ names: socket.getPeerCertificate().subjectaltname ?? "", authorized: socket.authorized });
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("serve --config with dns-01", () => {
  test("[rfc2136] with a TSIG key file: a wildcard site obtained through BIND and served", async () => {
    const daemon = await startDaemonProcess({
      config: (dir) => {
        const keyFile = join(dir, "acme.key");
        writeFileSync(keyFile, bind.keyText, { mode: 0o600 });
        return config(dir, `\n[rfc2136]\nserver = "127.0.0.1"\nport = ${PORT}\ntsig_key_file = "${keyFile}"\n`);
      },
      readyLine: (line) => line.startsWith("daemon.example.test: obtained ("),
      servingTimeoutMs: 60_000,
    });
    try {
      const leaf = await served("any.daemon.example.test");
      expect(leaf.authorized).toBe(true);
      expect(leaf.names).toBe("DNS:*.daemon.example.test, DNS:daemon.example.test");
    } finally {
      await daemon.stop();
    }
  });

  test("both [rfc2136] and dns_hook: refused at start, file and line named, exit 2", async () => {
    const dir = makeTempDir("serve-dns01-both");
    const file = join(dir, "serve.toml");
    writeFileSync(file, config(dir, `dns_hook = "/bin/true"\n[rfc2136]\nserver = "127.0.0.1"\n`));
    const run = await runClient(["serve", "--config", file]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`bun-acme: error: ${file}:4: challenge = "dns-01" needs exactly one of [rfc2136] (your name server) or dns_hook (a command)`);
  });

  test("a TSIG key file that does not exist: one line naming it, exit 2 (the configuration's fault), nothing served", async () => {
    const dir = makeTempDir("serve-dns01-nokey");
    const file = join(dir, "serve.toml");
    const missing = join(dir, "nope.key");
    writeFileSync(file, config(dir, `\n[rfc2136]\nserver = "127.0.0.1"\nport = ${PORT}\ntsig_key_file = "${missing}"\n`));
    const run = await runClient(["serve", "--config", file]);
    expect(run.stderr.trim()).toBe(`bun-acme: error: [rfc2136] tsig_key_file ${missing}: cannot read it (ENOENT)`);
    expect(run.code).toBe(2);
  });
});
