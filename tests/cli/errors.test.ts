/**
 * How the command line reports each kind of error: the one line `describeError` gives and the
 * exit code `exitCodeFor` gives, for every error class of the library and the CLI.
 */
import { describe, expect, test } from "bun:test";
import { AcmeError, AcmeProblemError, AcmeProfileError } from "../../src/acme/index.ts";
import { DnsHookError } from "../../src/challenges/index.ts";
import { ShutdownBeforeCertificate, UsageError } from "../../src/cli/errors.ts";
import { describeError, exitCodeFor } from "../../src/cli/index.ts";
import { ConfigError } from "../../src/daemon/index.ts";
import { DnsClientError, DnsUpdateError } from "../../src/dns/index.ts";
import { ServerStartError } from "../../src/servers/index.ts";
import { LockHeldError, StoreError } from "../../src/store/index.ts";

const busy = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" });

const CASES: readonly (readonly [string, unknown, string, number])[] = [
  ["UsageError", new UsageError("--domain is missing"), "--domain is missing (see --help)", 2],
  ["ConfigError", new ConfigError("serve.toml:4: unknown key \"upstreem\""), "serve.toml:4: unknown key \"upstreem\"", 2],
  ["ServerStartError", new ServerStartError("http-01 challenge server", "127.0.0.1", 5002, busy),
    "Cannot start the http-01 challenge server on 127.0.0.1:5002: the port is already in use; stop whatever holds it or pick another port with the --*-port options", 2],
  ["AcmeProfileError", new AcmeProfileError("tlsserver", ["classic", "shortlived"]), "The CA offers no certificate profile \"tlsserver\" (it offers: classic, shortlived)", 2],
  ["AcmeError", new AcmeError("ERR_CANCELLED", "Stopped by SIGTERM"), "Stopped by SIGTERM", 1],
  ["AcmeProblemError (externalAccountRequired)", new AcmeProblemError({ type: "urn:ietf:params:acme:error:externalAccountRequired", detail: "EAB needed" }, 403, "https://ca.test/new-acct"),
    "The CA refused the request to https://ca.test/new-acct: externalAccountRequired: EAB needed; this CA needs External Account Binding: give the credentials it issued with --eab-kid and --eab-hmac-key", 1],
  ["StoreError", new StoreError("lineage.json is not valid JSON", "ERR_STORE_CORRUPT"), "lineage.json is not valid JSON", 1],
  ["LockHeldError", new LockHeldError("lineage a.test", undefined, 0), "lineage a.test is locked by another run; gave up after waiting 0 s", 1],
  ["ShutdownBeforeCertificate", new ShutdownBeforeCertificate(), "GET /shutdown arrived before the certificate was obtained: cancelled, pending authorizations deactivated", 3],
  ["DnsUpdateError", new DnsUpdateError("ns1.test refused the update: NOTAUTH", "NOTAUTH"), "ns1.test refused the update: NOTAUTH", 1],
  ["DnsClientError", new DnsClientError("127.0.0.1:53", "did not answer"), "The name server 127.0.0.1:53 did not answer", 1],
  ["DnsHookError", new DnsHookError("dns hook \"x present\" exited with 3"), "dns hook \"x present\" exited with 3", 1],
  ["a file system error", Object.assign(new Error("ENOSPC"), { code: "ENOSPC", path: "/var/lib/x" }), "cannot use /var/lib/x: ENOSPC (no space left on the device; files already there are untouched)", 1],
  // Only a BunAcmeError's code is trusted: an object that merely carries one is unexpected.
  ["an object with a known code that is no BunAcmeError", { code: "ERR_DNS_UPDATE", message: "forged" }, "unexpected error: [object Object] (set BUN_ACME_DEBUG=1 for details)", 1],
  ["an Error with the config code that is no BunAcmeError", Object.assign(new Error("not ours"), { code: "ERR_CONFIG" }), "unexpected error: not ours (set BUN_ACME_DEBUG=1 for details)", 1],
  ["an unexpected error", new Error("boom\nsecond line"), "unexpected error: boom (set BUN_ACME_DEBUG=1 for details)", 1],
];

describe("describeError() and exitCodeFor()", () => {
  test.each(CASES)("%s: one line and its exit code", (_kind, error, line, code) => {
    expect(describeError(error, {})).toBe(line);
    expect(exitCodeFor(error)).toBe(code);
  });
});
