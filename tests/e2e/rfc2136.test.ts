/**
 * dns-01 through RFC 2136 updates to a real BIND 9, which Pebble asks for the TXT records: a
 * wildcard and its base name issued, the zone left without any TXT afterwards (checked with dig),
 * and a zone whose second name server (a real Knot, a secondary refreshing every 2 s) serves the
 * value late: the client waits for it instead of failing.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AcmeTransport, issueCertificate, registerAccount } from "../../src/acme/index.ts";
import { createCsr } from "../../src/asn1/index.ts";
import { Rfc2136Solver } from "../../src/challenges/index.ts";
import { parseTsigKey } from "../../src/dns/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { digTxt, startBind, type Bind } from "../support/bind.ts";
import { runClient } from "../support/client.ts";
import { startKnotSecondary, type Knot } from "../support/knot.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(90_000);

const PORT = 15363;
let bind: Bind;
let pebble: Pebble;
beforeAll(async () => {
  bind = await startBind(PORT, { recursion: true });
  pebble = await startPebble({ dnsServer: `127.0.0.1:${PORT}` });
});
afterAll(async () => {
  await pebble?.stop();
  await bind?.stop();
});

async function issue(names: string[], solver: Rfc2136Solver) {
  const transport = new AcmeTransport({ directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem });
  const account = await registerAccount(transport, await generateKeyPair("ec256"));
  const identifiers = names.map((value) => ({ type: "dns", value }) as const);
  return issueCertificate({ transport, account, identifiers, solver, csr: await createCsr({ identifiers, keyPair: await generateKeyPair("ec256") }) });
}

describe("Rfc2136Solver with BIND", () => {
  test("a wildcard and its base name: both TXT values published, validated by Pebble, then removed", async () => {
    const log: string[] = [];
    const solver = new Rfc2136Solver({ server: "127.0.0.1", port: PORT, tsig: parseTsigKey(bind.keyText), log: (line) => log.push(line) });
    const issued = await issue(["*.wild.example.test", "wild.example.test"], solver);
    expect(issued.leaf.dnsNames.toSorted()).toEqual(["*.wild.example.test", "wild.example.test"]);
    expect(log.filter((line) => line.startsWith("TXT _acme-challenge.wild.example.test added in zone example.test"))).toHaveLength(2);
    expect(await digTxt(PORT, "_acme-challenge.wild.example.test")).toEqual([]);
  });

  test("CNAME delegation: _acme-challenge.alias.example.test points into acme-dns.test, where the value goes", async () => {
    const log: string[] = [];
    const solver = new Rfc2136Solver({ server: "127.0.0.1", port: PORT, tsig: parseTsigKey(bind.keyText), log: (line) => log.push(line) });
    await issue(["alias.example.test"], solver);
    expect(log[0]).toStartWith("TXT alias.acme-dns.test added in zone acme-dns.test");
    expect(await digTxt(PORT, "alias.acme-dns.test")).toEqual([]);
  });
});

describe("a zone with a late secondary (Knot, refreshing every 2 s, no NOTIFY)", () => {
  const PRIMARY = 15373;
  let primary: Bind;
  let knot: Knot;
  beforeAll(async () => {
    primary = await startBind(PRIMARY, { extraNs: "@ IN NS ns2.example.test.\nns2 IN A 127.0.0.2" });
    knot = await startKnotSecondary("127.0.0.2", PRIMARY, "example.test", PRIMARY);
  });
  afterAll(async () => {
    await knot?.stop();
    await primary?.stop();
  });

  test("present() returns only once both name servers serve the value (Knot right after it, asked directly)", async () => {
    const log: string[] = [];
    const solver = new Rfc2136Solver({ server: "127.0.0.1", port: PRIMARY, tsig: parseTsigKey(primary.keyText), log: (line) => log.push(line) });
    const transport = new AcmeTransport({ directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem });
    const account = await registerAccount(transport, await generateKeyPair("ec256"));
    // Present alone (the CA is not involved): without the wait, Knot would not have the value for up to 2 s.
    await solver.present({ type: "dns", value: "late.example.test" }, { type: "dns-01", url: "https://ca.test/c", status: "pending", token: "tok" }, `tok.${account.thumbprint}`);
    expect(log.at(-1)).toMatch(/^TXT _acme-challenge\.late\.example\.test served by 2 authoritative server\(s\) after \d+ ms$/);
    const values = await digTxt(PRIMARY, "_acme-challenge.late.example.test", "127.0.0.2");
    expect(values).toHaveLength(1);
    await solver.cleanup({ type: "dns", value: "late.example.test" }, { type: "dns-01", url: "https://ca.test/c", status: "pending", token: "tok" }, `tok.${account.thumbprint}`);
    expect(await digTxt(PRIMARY, "_acme-challenge.late.example.test")).toEqual([]);
  });

  test("a secondary that never serves it: the error names it, within --dns-propagation-timeout", async () => {
    await knot.stop();
    const solver = new Rfc2136Solver({ server: "127.0.0.1", port: PRIMARY, tsig: parseTsigKey(primary.keyText), propagationTimeoutMs: 1_500 });
    const started = Date.now();
    const error = await solver.present({ type: "dns", value: "never.example.test" }, { type: "dns-01", url: "https://ca.test/c", status: "pending", token: "t2" }, "t2.x")
      .catch((caught: Error) => caught.message);
    expect(error).toBe("The TXT record _acme-challenge.never.example.test did not appear on ns2.example.test (127.0.0.2) within 1.5 s (--dns-propagation-timeout)");
    expect(Date.now() - started).toBeLessThan(5_000);
    await solver.cleanup({ type: "dns", value: "never.example.test" }, { type: "dns-01", url: "https://ca.test/c", status: "pending", token: "t2" }, "t2.x");
  });
});

describe("certonly dns01 on the user's own name servers", () => {
  test("--dns-update with --tsig-key: obtained, nothing left in the zone, and renew reuses the settings", async () => {
    const state = makeTempDir("bun-acme-rfc2136-store-");
    const result = await runClient(["certonly", "dns01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "*.cli.example.test",
      "--domain", "cli.example.test", "--dns-update", `127.0.0.1:${PORT}`, "--tsig-key", bind.keyFile, "--state", state]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("cli.example.test: obtained (serial ");
    expect(await digTxt(PORT, "_acme-challenge.cli.example.test")).toEqual([]);
    const config = JSON.parse(readFileSync(join(state, "certificates", "cli.example.test", "lineage.json"), "utf8"));
    expect(config.solver).toEqual({ type: "dns-01", via: "rfc2136", server: "127.0.0.1", port: PORT, tsigKeyFile: bind.keyFile, propagationTimeoutSeconds: 120 });
    expect(statSync(join(state, "certificates", "cli.example.test", "lineage.json")).mode & 0o777).toBe(0o600);
    const renewed = await runClient(["renew", "--state", state, "--force"]);
    expect(renewed.stderr).toBe("");
    expect(renewed.stdout).toContain("cli.example.test: renewed (serial ");
  });

  test("a wrong TSIG secret: exit 1, one line naming the key, the server and BIND's verdict; the authorization deactivated, nothing left in the zone", async () => {
    const result = await runClient(["certonly", "dns01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "wrong.example.test",
      "--dns-update", `127.0.0.1:${PORT}`, "--tsig", `hmac-sha256:acme-key:${Buffer.alloc(32, 7).toString("base64")}`, "--state", makeTempDir("bun-acme-rfc2136-store-")]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `wrong.example.test: failed: The name server 127.0.0.1:${PORT} refused to add the TXT record _acme-challenge.wrong.example.test in zone example.test with TSIG key "acme-key" (hmac-sha256): NOTAUTH, TSIG BADSIG`,
    );
    expect(result.stdout).toMatch(/^Authorization https:\/\/127\.0\.0\.1:14000\/authZ\/\S+ deactivated$/m); // the order's pending authorization
    expect(await digTxt(PORT, "_acme-challenge.wrong.example.test")).toEqual([]);
  });

  test("--dns-hook: a script calling nsupdate publishes and removes the record; a failing hook is reported with its exit code and output", async () => {
    const dir = makeTempDir("bun-acme-dns-hook-");
    const script = join(dir, "hook.sh");
    writeFileSync(script, `#!/bin/sh
case "$1" in
  present) printf 'server 127.0.0.1 ${PORT}\\nupdate add %s 60 TXT %s\\nsend\\n' "$2" "$3" | nsupdate -k ${bind.keyFile} ;;
  cleanup) printf 'server 127.0.0.1 ${PORT}\\nupdate delete %s TXT %s\\nsend\\n' "$2" "$3" | nsupdate -k ${bind.keyFile} ;;
esac
`, { mode: 0o755 });
    const ok = await runClient(["certonly", "dns01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "hook.example.test",
      "--dns-hook", script, "--state", join(dir, "store")]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(await digTxt(PORT, "_acme-challenge.hook.example.test")).toEqual([]);

    const failing = await runClient(["certonly", "dns01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "hookfail.example.test",
      "--dns-hook", "echo 'provider says: quota exceeded' >&2; exit 3; true", "--state", join(dir, "store2")]);
    expect(failing.code).toBe(1);
    expect(failing.stderr.trim()).toMatch(
      /^hookfail\.example\.test: failed: dns hook "echo 'provider says: quota exceeded' >&2; exit 3; true present _acme-challenge\.hookfail\.example\.test [\w-]+" exited with 3: provider says: quota exceeded$/,
    );
  });
});
