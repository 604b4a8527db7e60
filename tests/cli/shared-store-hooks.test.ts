/**
 * The command line on a Redis store (Debian's redis-server) that someone without the store's key
 * has written to: a planted account key, hooks planted in a lineage's configuration. Also what a
 * hook gets from a shared store (RENEWED_LINEAGE) and that a hook cannot hold a run past its time.
 * Certificates come from the FAKE CA (tests/support/fake-ca.ts behind Bun.serve).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { RedisClient } from "bun";
import { runClient } from "../support/client.ts";
import { serveFakeCa, type ServedFakeCa } from "../support/fake-ca-server.ts";
import { startRedis, type Redis } from "../support/redis.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const NAME = "hooks.fake.test";
const KEY = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");
const PLANTED_PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPlantedPlantedPlantedPlantedPlantedPlantedPlanteoahRANCAAQ=\n-----END PRIVATE KEY-----\n";

let served: ServedFakeCa;
let redis: Redis;
let client: RedisClient;
let databases = 0;
beforeAll(async () => {
  served = serveFakeCa();
  redis = await startRedis(16399);
  client = new RedisClient(redis.url);
}, 60_000);
afterAll(async () => {
  client?.close();
  await Promise.all([served?.stop(), redis?.stop()]);
}, 30_000);

/** A Redis database of its own and the certonly arguments that obtain NAME into it. */
function freshStore() {
  const db = ++databases;
  const url = `${redis.url}/${db}`;
  const certonly = ["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002", "--store", url];
  const send = async (command: string, args: string[]) => {
    await client.send("SELECT", [String(db)]);
    return client.send(command, args);
  };
  return { url, certonly, send };
}

describe("an encrypted Redis store written to by someone without the key", () => {
  test("a plain PEM planted as the account key: renew --force refuses it naming the record; no account is registered with it", async () => {
    const { url, certonly, send } = freshStore();
    const env = { BUN_ACME_STORE_KEY: KEY };
    expect((await runClient(certonly, { env })).code).toBe(0);
    await send("HSET", ["bun-acme:account", "key", PLANTED_PEM]);
    const accountsBefore = served.ca.requests.filter((request) => request === "POST /account").length;
    const result = await runClient(["renew", "--store", url, "--force"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `${NAME}: failed: the Redis store redis://127.0.0.1:16399/${databases}/bun-acme: bun-acme:account/key: the private key is stored in clear, but this store's records are sealed with its key: refused (someone without the key wrote it); remove it, or obtain the certificate again with certonly --force`,
    );
    expect(served.ca.requests.filter((request) => request === "POST /account")).toHaveLength(accountsBefore);
  });

  test("hooks planted in a lineage's configuration in clear: refused naming them, never run", async () => {
    const { url, certonly, send } = freshStore();
    const env = { BUN_ACME_STORE_KEY: KEY };
    const dir = makeTempDir("bun-acme-planted-");
    expect((await runClient(certonly, { env })).code).toBe(0);
    const config = {
      version: 1, name: NAME, identifiers: [{ type: "dns", value: NAME }], directoryUrl: served.directoryUrl, allowInsecureHttp: true, challenge: "http-01",
      keyType: "ec256", bind: "127.0.0.1", ports: { http: 20002, tls: 443, dns: 53 }, hooks: { pre: `id > ${join(dir, "PWNED")}` },
    };
    await send("HSET", [`bun-acme:lineage:${NAME}`, "config", JSON.stringify(config)]);
    const result = await runClient(["renew", "--store", url, "--force"], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`lineage ${NAME} (config): the configuration is stored in clear but names cli.hooks, and this store's records are sealed with its key: refused`);
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
  });
});

describe("hooks and a Redis store without a key", () => {
  test("hooks saved there are not run by renew (one line says how to give them); given on the command line they run, with RENEWED_LINEAGE a private copy", async () => {
    const { url, certonly } = freshStore();
    const dir = makeTempDir("bun-acme-keyless-");
    const obtained = await runClient([...certonly, "--deploy-hook", `id > ${join(dir, "PWNED")}`]);
    expect(obtained.code).toBe(0);
    expect(existsSync(join(dir, "PWNED"))).toBe(true); // given on certonly's own command line: run
    expect(obtained.stdout).toContain("Note: without BUN_ACME_STORE_KEY this shared store's records are not sealed, so renew will not run the hooks saved with this lineage");
    Bun.spawnSync(["rm", join(dir, "PWNED")]);
    const refused = await runClient(["renew", "--store", url, "--force"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toStartWith(`${NAME}: failed: the Redis store ${url}/bun-acme: lineage ${NAME}: its deploy hook is not run, since the store does not seal its records`);
    expect(refused.stderr).toContain("give hooks on this command line (renew --pre-hook, --post-hook, --deploy-hook), or set BUN_ACME_STORE_KEY");
    expect(existsSync(join(dir, "PWNED"))).toBe(false);
    const hook = `ls "$RENEWED_LINEAGE" > ${join(dir, "files")}; stat -c %a "$RENEWED_LINEAGE" > ${join(dir, "mode")}; echo "$RENEWED_LINEAGE" > ${join(dir, "where")}`;
    const local = await runClient(["renew", "--store", url, "--force", "--deploy-hook", hook]);
    expect(local.stderr).toBe("");
    expect(local.code).toBe(0);
    expect(readFileSync(join(dir, "files"), "utf8").trim().split("\n")).toEqual(["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"]);
    expect(readFileSync(join(dir, "mode"), "utf8").trim()).toBe("700");
    expect(existsSync(readFileSync(join(dir, "where"), "utf8").trim())).toBe(false); // the copy is removed afterwards
  });
});

describe("a hook cannot hold the run", () => {
  test("a deploy hook that leaves 'sleep 30 &' behind: certonly returns at once", async () => {
    const state = makeTempDir("bun-acme-hook-bg-");
    const started = Date.now();
    const result = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002",
      "--state", state, "--deploy-hook", "sleep 30 &"]);
    expect(result.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test("a deploy hook that never ends is killed at --hook-timeout, and the failure says so", async () => {
    const state = makeTempDir("bun-acme-hook-slow-");
    const started = Date.now();
    const result = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002",
      "--state", state, "--deploy-hook", "echo going; sleep 60", "--hook-timeout", "2"]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.stderr.trim()).toBe(`${NAME}: deploy hook "echo going; sleep 60" was killed after 2 s (its time is --hook-timeout, and never beyond --timeout): going`);
  });

  test("--timeout bounds a hook too", async () => {
    const state = makeTempDir("bun-acme-hook-timeout-");
    const started = Date.now();
    const result = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002",
      "--state", state, "--deploy-hook", "sleep 60", "--timeout", "4"]);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(result.stderr).toContain('deploy hook "sleep 60" was killed after');
  });
});
