/**
 * The life of a certificate from the command line, against a real Pebble issuing 12-second
 * certificates (`certificateValidityPeriod`): certonly into the store, renew when due (and not
 * before), --force, --dry-run, hooks, two renews at once, and a real nginx serving a webroot.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { eventLines } from "../support/events.ts";
import { startNginx } from "../support/nginx.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

/** Seconds each certificate is valid: renewal falls due 8 s after issuance (2/3 of it). */
const VALIDITY_SECONDS = 12;

let pebble: Pebble;
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: VALIDITY_SECONDS } });
});
afterAll(async () => {
  await pebble?.stop();
});
// Pebble resolves the names through 127.0.0.1:10053; certonly with http-01 runs no DNS server.
useLoopbackResolver();

interface Metadata {
  serial: string;
  notAfter: string;
  nextRenewal: string;
}

const metadataOf = (state: string, name: string): Metadata => JSON.parse(readFileSync(join(state, "certificates", name, "metadata.json"), "utf8"));
const deployLines = (file: string) => (existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : []);

function certonlyArgs(state: string, names: string[], extra: string[] = []): string[] {
  return ["certonly", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, ...names.flatMap((name) => ["--domain", name]),
    "--bind", "127.0.0.1", "--http-port", "5002", "--state", state, ...extra];
}

/** Waits until the wall clock passes `iso` (the renewal point is a time, not an event). */
async function until(iso: string): Promise<void> {
  const wait = Date.parse(iso) - Date.now();
  if (wait > 0) await Bun.sleep(wait + 50);
}

describe("certonly, then renew", () => {
  const state = makeTempDir("bun-acme-store-");
  const out = makeTempDir("bun-acme-live-");
  const deployed = join(makeTempDir("bun-acme-hook-"), "deployed");
  const hook = `printf '%s|%s\\n' "$RENEWED_LINEAGE" "$RENEWED_DOMAINS" >> ${deployed}`;
  const folder = join(state, "certificates", "life.test");

  test("certonly obtains into the store, writes certbot's files to --out, runs the deploy hook with certbot's variables, exits 0", async () => {
    const result = await runClient(certonlyArgs(state, ["life.test", "www.life.test"], ["--out", out, "--deploy-hook", hook]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const meta = metadataOf(state, "life.test");
    expect(result.stdout).toContain(`life.test: obtained (serial ${meta.serial}, expires ${meta.notAfter}, next renewal ${meta.nextRenewal}) in ${folder}`);
    expect(statSync(join(folder, "privkey.pem")).mode & 0o777).toBe(0o600);
    expect(statSync(join(out, "privkey.pem")).mode & 0o777).toBe(0o600);
    for (const file of ["cert.pem", "chain.pem", "fullchain.pem"]) expect(readFileSync(join(out, file), "utf8")).toBe(readFileSync(join(folder, file), "utf8"));
    expect(readFileSync(join(folder, "fullchain.pem"), "utf8")).toBe(readFileSync(join(folder, "cert.pem"), "utf8") + readFileSync(join(folder, "chain.pem"), "utf8"));
    expect(deployLines(deployed)).toEqual([`${folder}|life.test www.life.test`]);
    const renewAt = Date.parse(meta.nextRenewal) - Date.parse(JSON.parse(readFileSync(join(folder, "metadata.json"), "utf8")).notBefore);
    expect(renewAt).toBeGreaterThan((VALIDITY_SECONDS * 1000 * 2) / 3 - 1500);
    expect(renewAt).toBeLessThan((VALIDITY_SECONDS * 1000 * 2) / 3 + 1500);
  });

  test("certonly again for the same names: not due, exit 0, nothing changed; with --json, one not_due event", async () => {
    const before = metadataOf(state, "life.test");
    const result = await runClient(certonlyArgs(state, ["life.test", "www.life.test"]));
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`life.test: not due until ${before.nextRenewal} (expires ${before.notAfter})`);
    const json = await runClient(certonlyArgs(state, ["life.test", "www.life.test"], ["--json"]));
    expect(json.code).toBe(0);
    expect(eventLines(json.stdout)).toEqual([{
      type: "not_due", time: expect.any(String), lineage: "life.test", names: ["life.test", "www.life.test"], ca: pebble.directoryUrl,
      serial: before.serial, notAfter: before.notAfter, nextRenewal: before.nextRenewal,
    }]);
    expect(metadataOf(state, "life.test")).toEqual(before);
  });

  test("renew before the renewal point: not due; --dry-run asks the CA but saves nothing and runs no hook; --force renews", async () => {
    const before = metadataOf(state, "life.test");
    const early = await runClient(["renew", "--state", state]);
    expect(early.code).toBe(0);
    expect(early.stdout.trim()).toBe(`life.test: not due until ${before.nextRenewal} (expires ${before.notAfter})`);

    const dry = await runClient(["renew", "--state", state, "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    const [event, ...more] = eventLines(dry.stdout);
    expect(more).toEqual([]);
    expect(event).toMatchObject({ type: "dry_run", lineage: "life.test", names: ["life.test", "www.life.test"], ca: pebble.directoryUrl });
    expect(event!.type === "dry_run" && event!.serial).not.toBe(before.serial);
    expect(metadataOf(state, "life.test")).toEqual(before);
    expect(deployLines(deployed)).toHaveLength(1);

    const forced = await runClient(["renew", "--state", state, "--force"]);
    expect(forced.stderr).toBe("");
    expect(forced.code).toBe(0);
    const after = metadataOf(state, "life.test");
    expect(after.serial).not.toBe(before.serial);
    expect(forced.stdout.trim()).toBe(`life.test: renewed (serial ${after.serial}, expires ${after.notAfter}, next renewal ${after.nextRenewal})`);
    expect(deployLines(deployed)).toHaveLength(2);
    expect(readFileSync(join(out, "cert.pem"), "utf8")).toBe(readFileSync(join(folder, "cert.pem"), "utf8"));
  });

  test("past the renewal point, two renews at once: one renews (deploy hook once), the other waits for the lock and finds it not due", async () => {
    const before = metadataOf(state, "life.test");
    await until(before.nextRenewal);
    const [first, second] = await Promise.all([runClient(["renew", "--state", state, "--json"]), runClient(["renew", "--state", state, "--json"])]);
    expect([first.code, second.code]).toEqual([0, 0]);
    const events = [first.stdout, second.stdout].flatMap(eventLines).sort((a, b) => a.type.localeCompare(b.type));
    expect(events.map((event) => event.type)).toEqual(["not_due", "renewed"]);
    const after = metadataOf(state, "life.test");
    expect(after.serial).not.toBe(before.serial);
    expect(events[1]).toMatchObject({ serial: after.serial, notAfter: after.notAfter, nextRenewal: after.nextRenewal, previousSerial: before.serial, folder });
    expect(deployLines(deployed)).toHaveLength(3);
    expect(deployLines(deployed)[2]).toBe(`${folder}|life.test www.life.test`);
  });

  test("certificates lists the lineage (text and --json)", async () => {
    const meta = metadataOf(state, "life.test");
    const text = await runClient(["certificates", "--state", state]);
    // Pebble's certificates here live 12 s: by now this one may have expired, which certificates marks.
    expect(text.stdout.trim().replace("; EXPIRED", "")).toBe(`life.test: life.test, www.life.test; serial ${meta.serial}, expires ${meta.notAfter}, next renewal ${meta.nextRenewal}; ${folder}`);
    const json = await runClient(["certificates", "--state", state, "--json"]);
    const { status: _status, problems: _problems, ...listed } = JSON.parse(json.stdout.trim());
    expect(listed).toEqual({
      event: "lineage", time: expect.any(String), lineage: "life.test", names: ["life.test", "www.life.test"], ca: pebble.directoryUrl, serial: meta.serial,
      not_after: meta.notAfter, next_renewal: meta.nextRenewal, folder,
      issuer_name: expect.stringMatching(/^Pebble Intermediate CA /), due: expect.any(Boolean), renewal_source: "lifetime",
    });
  });
});

describe("a --state folder of the ETH command", () => {
  test("becomes a store: certonly reuses the account it holds, and records it", async () => {
    const state = makeTempDir("bun-acme-store-");
    const created = await runClient(["account", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--state", state]);
    expect(created.code).toBe(0);
    const { accountUrl } = JSON.parse(readFileSync(join(state, "account.json"), "utf8"));
    const result = await runClient(certonlyArgs(state, ["account.life.test"]));
    expect(result.code).toBe(0);
    expect(JSON.parse(readFileSync(join(state, "account.json"), "utf8")).accountUrl).toBe(accountUrl);
    expect(JSON.parse(readFileSync(join(state, "certificates", "account.life.test", "metadata.json"), "utf8")).accountUrl).toBe(accountUrl);
  });
});

describe("--webroot with a real nginx on the http-01 port", () => {
  test("nginx serves the challenge file Pebble fetches; the file is gone afterwards", async () => {
    const root = makeTempDir("bun-acme-webroot-");
    const nginx = await startNginx(root, 5002);
    try {
      const state = makeTempDir("bun-acme-store-");
      const result = await runClient([
        "certonly", "--webroot", root, "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "webroot.test", "--state", state,
      ]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("webroot.test: obtained (serial ");
      expect(readdirSync(join(root, ".well-known", "acme-challenge"))).toEqual([]);
      const config = JSON.parse(readFileSync(join(state, "certificates", "webroot.test", "lineage.json"), "utf8"));
      expect(config.solver).toEqual({ type: "http-01", via: "webroot", path: root });
      const renewed = await runClient(["renew", "--state", state, "--force"]);
      expect(renewed.code).toBe(0);
      expect(renewed.stdout).toContain("webroot.test: renewed (serial ");
    } finally {
      await nginx.stop();
    }
  });
});
