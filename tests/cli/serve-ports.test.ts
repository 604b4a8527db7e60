/**
 * serve binds its listeners before anything else, so a port that is taken is said at once, in the
 * daemon's own words (its configuration's `[listen]` and `[admin]`, never the issue command's
 * `--*-port` options), with exit code 2 and nothing started.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

let taken: Bun.TCPSocketListener<undefined>;
beforeAll(() => {
  taken = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});
afterAll(() => taken?.stop(true));

function config(dir: string, https: number, admin?: number): string {
  return `directory = "https://127.0.0.1:1/directory"
store = "${join(dir, "store")}"
[listen]
hostname = "127.0.0.1"
https = ${https}
http = ${taken.port + 1 === https ? taken.port + 2 : taken.port + 1}
${admin ? `[admin]\nport = ${admin}\n` : ""}
[[site]]
names = ["ports.serve.test"]
upstream = "http://127.0.0.1:9"
`;
}

describe("serve --config with a port another program holds", () => {
  test("[listen] https taken: one line naming it and [listen] in the file, exit 2, before any CA is asked", async () => {
    const dir = makeTempDir("serve-ports");
    const file = join(dir, "serve.toml");
    writeFileSync(file, config(dir, taken.port));
    const run = await runClient(["serve", "--config", file]);
    expect(run.stderr.trim()).toBe(`bun-acme: error: Cannot start the HTTPS server on 127.0.0.1:${taken.port}: the port is already in use; stop whatever holds it or change [listen] in ${file}`);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
  });

  test("[admin] port taken: one line naming [admin], exit 2", async () => {
    const dir = makeTempDir("serve-ports-admin");
    const file = join(dir, "serve.toml");
    const free = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const httpsPort = free.port;
    free.stop(true);
    writeFileSync(file, config(dir, httpsPort, taken.port));
    const run = await runClient(["serve", "--config", file]);
    expect(run.stderr.trim()).toBe(`bun-acme: error: Cannot start the admin server on 127.0.0.1:${taken.port}: the port is already in use; stop whatever holds it or change [admin] in ${file}`);
    expect(run.code).toBe(2);
  });
});
