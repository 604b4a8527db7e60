/**
 * `renew` on a store written before lineage.json version 2: the fixture's version 1 lineage (as
 * main d430fee wrote it, tests/store/fixtures/v1-d430fee), pointed at the FAKE CA served on
 * loopback, renews with what it saved (its http-01 responder port, hooks, --out folder, key type)
 * and is written back as version 2. A lineage whose solver is external (manage()'s) is not renewed
 * by the command line: one line says where it is renewed, and nothing stored changes.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { eventLines } from "../support/events.ts";
import { FAKE_CLI_HTTP_PORT, serveFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const FIXTURE = join(import.meta.dir, "..", "store", "fixtures", "v1-d430fee", "certificates", "v1.test");

/** A store holding the fixture's v1.test lineage, its CA, port, --out folder and deploy hook made this test's. */
function storeWithVersion1(directoryUrl: string) {
  const state = makeTempDir("bun-acme-v1-renew-");
  const out = makeTempDir("bun-acme-v1-out-");
  const folder = join(state, "certificates", "v1.test");
  cpSync(FIXTURE, folder, { recursive: true });
  const { caFile: _, ...v1 } = JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"));
  expect(v1.version).toBe(1);
  const deployed = join(out, "DEPLOYED");
  const config = { ...v1, directoryUrl, allowInsecureHttp: true, ports: { ...v1.ports, http: FAKE_CLI_HTTP_PORT }, out, hooks: { ...v1.hooks, deploy: `echo "$RENEWED_DOMAINS" > ${deployed}` } };
  writeFileSync(join(folder, "lineage.json"), JSON.stringify(config, null, 2), { mode: 0o600 });
  return { state, out, folder, deployed };
}

describe("renew of a version 1 lineage", () => {
  test("renews with what version 1 saved (port, key type, hooks, --out) and writes lineage.json back as version 2", async () => {
    const served = serveFakeCa();
    try {
      const { state, out, folder, deployed } = storeWithVersion1(served.directoryUrl);
      const before = readFileSync(join(folder, "fullchain.pem"), "utf8");
      const result = await runClient(["renew", "--state", state, "--force"]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("v1.test: renewed (serial ");
      const chain = readFileSync(join(folder, "fullchain.pem"), "utf8");
      expect(chain).not.toBe(before);
      expect(new X509Certificate(chain).publicKey.asymmetricKeyDetails?.namedCurve).toBe("secp384r1"); // ec384, as saved
      expect(readFileSync(join(out, "fullchain.pem"), "utf8")).toBe(chain);
      expect(readFileSync(deployed, "utf8").trim()).toBe("v1.test www.v1.test");
      expect(JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"))).toEqual({
        version: 2, name: "v1.test", identifiers: [{ type: "dns", value: "v1.test" }, { type: "dns", value: "www.v1.test" }],
        directoryUrl: served.directoryUrl, allowInsecureHttp: true, keyType: "ec384",
        solver: { type: "http-01", via: "responder", bind: "127.0.0.1", port: FAKE_CLI_HTTP_PORT },
        cli: { hooks: { pre: "echo pre", deploy: `echo "$RENEWED_DOMAINS" > ${deployed}` }, out },
      });
    } finally {
      await served.stop();
    }
  });

  test("a lineage proven by manage()'s own solver (external) is refused in one line; nothing stored changes", async () => {
    const served = serveFakeCa();
    try {
      const { state, folder, deployed } = storeWithVersion1(served.directoryUrl);
      const v1 = JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"));
      const external = {
        version: 2, name: v1.name, identifiers: v1.identifiers, directoryUrl: v1.directoryUrl, allowInsecureHttp: true, keyType: "ec256",
        solver: { type: "http-01", via: "external" },
      };
      writeFileSync(join(folder, "lineage.json"), JSON.stringify(external), { mode: 0o600 });
      const files = () => ["lineage.json", "metadata.json", "fullchain.pem", "privkey.pem"].map((file) => readFileSync(join(folder, file), "utf8"));
      const before = files();
      const result = await runClient(["renew", "--state", state, "--force"]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe("v1.test: failed: lineage v1.test is proven by a program's own http-01 solver (manage()'s): renew it from that program, or obtain it again with certonly --force");
      expect(files()).toEqual(before);
      expect(existsSync(deployed)).toBe(false);
      expect(served.ca.orderPayloads).toHaveLength(0);
    } finally {
      await served.stop();
    }
  });
  test("a post hook that fails is one hook_failed event (hook post, no lineage of its own), and the exit code says so", async () => {
    const served = serveFakeCa();
    try {
      const { state } = storeWithVersion1(served.directoryUrl);
      const result = await runClient(["renew", "--state", state, "--force", "--json", "--post-hook", "echo cannot reload; exit 3"]);
      expect(result.code).toBe(1);
      const events = eventLines(result.stdout);
      expect(events.map((event) => event.type)).toEqual(["renewed", "hook_failed"]);
      expect(events[1]).toMatchObject({ type: "hook_failed", hook: "post", error: 'post hook "echo cannot reload; exit 3" exited with 3: cannot reload' });
      expect(events[1]).not.toHaveProperty("lineage");
    } finally {
      await served.stop();
    }
  });
});
