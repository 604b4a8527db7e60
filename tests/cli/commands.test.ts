/**
 * The command line's wrapper and command table, run as a user would (a child process): help per
 * command, CA presets, the --timeout message of every command, and a FAKE CA
 * (tests/support/fake-ca.ts, behind Bun.serve on loopback) that leaves the order pending after a
 * failed challenge.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runClient } from "../support/client.ts";
import { fakeIssueArgs, serveFakeCa } from "../support/fake-ca-server.ts";
import { openssl } from "../support/openssl.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes: allow more than the 5 s default.
setDefaultTimeout(60_000);

describe("bun-acme <command> --help", () => {
  test("each command shows its own flags, generated from the one flag table", async () => {
    const revoke = await runClient(["revoke", "--help"]);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toContain("Usage: bun-acme revoke --dir URL --cert FILE --cert-key FILE");
    expect(revoke.stdout).toContain("--reason REASON");
    expect(revoke.stdout).not.toContain("--record");
    const main = await runClient(["--help"]);
    expect(main.stdout).toContain("--record IPv4");
    expect(main.stdout).toContain("bun-acme renewal-info --cert FILE [--dir URL]");
  });
});

describe("CA presets", () => {
  test("a preset that needs External Account Binding is refused before any request, naming the flags", async () => {
    const result = await runClient(["http01", "--dir", "zerossl", "--record", "127.0.0.1", "--domain", "a.test"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      "bun-acme: error: --dir zerossl needs External Account Binding: give --eab-kid and --eab-hmac-key (from the ZeroSSL dashboard (Developer → EAB credentials)) (see --help)",
    );
  });

  test("an unknown name that is no URL lists the presets", async () => {
    const result = await runClient(["account", "--dir", "letsencrypt-stagin", "--state", "/nonexistent"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("not a URL nor a known CA (letsencrypt, letsencrypt-staging, zerossl, google, google-staging)");
  });
});

describe("--timeout against a CA that never answers", () => {
  test.each([
    [["account", "--state", "STATE"], "the account"],
    [["renewal-info", "--cert", "CERT"], "the renewal information"],
  ])("%p ends with the timeout message, not an unexpected error", async (command, what) => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const folder = makeTempDir("bun-acme-timeout-");
    try {
      // renewal-info needs a certificate with an Authority Key Identifier (openssl's self-signed ones have it).
      await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
        "-days", "1", "-subj", "/CN=timeout.test"], folder);
      const args = command.map((arg) => (arg === "STATE" ? join(folder, "state") : arg === "CERT" ? join(folder, "cert.pem") : arg));
      const result = await runClient([...args, "--dir", `https://127.0.0.1:${silent.port}/dir`, "--timeout", "1"]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`bun-acme: error: Gave up waiting for ${what} (--timeout) after 1 s`);
    } finally {
      silent.stop(true);
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("a CA that leaves the order pending after a failed challenge", () => {
  test.each(["invalid-authorization", "pending-with-error-later"] as const)("%s: exit 1 with the CA's detail, long before --timeout", async (onAnswer) => {
    const served = serveFakeCa({ onAnswer });
    const { ca } = served;
    const folder = makeTempDir("bun-acme-fake-cli-");
    try {
      const result = await runClient(fakeIssueArgs(served, folder));
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        "bun-acme: error: Authorization of dns a.fake.test with http-01 failed: incorrectResponse: the fake CA says: wrong key authorization",
      );
      expect(ca.requests.filter((request) => request === "POST /authz/0").length).toBeGreaterThanOrEqual(2);
    } finally {
      await served.stop();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

describe("a standard output whose reader went away (bun-acme ... | head -c1)", () => {
  test("EPIPE is ignored: no stack trace, the run ends as it would have (exit 0 after GET /shutdown)", async () => {
    const served = serveFakeCa();
    const folder = makeTempDir("bun-acme-epipe-");
    try {
      const script = `("$0" run "${join(ROOT, "src", "main.ts")}" "$@" 2>"${folder}/stderr"; echo $? >"${folder}/code") | head -c1 >/dev/null`;
      const shell = Bun.spawn(["sh", "-c", script, process.execPath, ...fakeIssueArgs(served, join(folder, "out"))], { stdout: "ignore", stderr: "inherit" });
      // Serving means the progress lines were all written (or dropped) after head exited.
      await waitForFile(join(folder, "out", "cert.pem"));
      await fetch("http://127.0.0.1:20003/shutdown").catch(() => undefined);
      await shell.exited;
      expect(readFileSync(join(folder, "stderr"), "utf8")).toBe("");
      expect(readFileSync(join(folder, "code"), "utf8").trim()).toBe("0");
    } finally {
      await served.stop();
    }
  });
});

/** Waits for a file to appear (polling the file system, which has no event for it here). */
async function waitForFile(path: string): Promise<void> {
  for (let i = 0; i < 400 && !existsSync(path); i++) await Bun.sleep(25);
  if (!existsSync(path)) throw new Error(`${path} never appeared`);
}
