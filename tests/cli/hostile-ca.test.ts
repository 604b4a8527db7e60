/**
 * The command line against a hostile CA: a FAKE CA (tests/support/fake-ca.ts behind Bun.serve on
 * loopback), since Pebble never misbehaves this way. Whatever it sends, the user gets one line
 * and a non-zero exit, and nothing already on disk is replaced.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPair } from "../../src/jose/index.ts";
import { spkiOf } from "../support/certificates.ts";
import { runClient, startClient } from "../support/client.ts";
import { fakeIssueArgs, replaceFlag, serveFakeCa } from "../support/fake-ca-server.ts";
import type { FakeCaScript } from "../support/fake-ca.ts";
import { makeTlsMaterial } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes: allow more than the 5 s default.
setDefaultTimeout(60_000);

/** Runs http01 against a fake CA following `script`, into a folder already holding a good pair. */
async function runAgainst(script: FakeCaScript, extra: string[] = []) {
  const served = serveFakeCa(script);
  const out = makeTempDir("bun-acme-hostile-");
  writeFileSync(join(out, "cert.pem"), "the good certificate\n");
  writeFileSync(join(out, "key.pem"), "the good key\n", { mode: 0o600 });
  try {
    const result = await runClient([...fakeIssueArgs(served, out), ...extra]);
    return { ...result, served, out, files: [readFileSync(join(out, "cert.pem"), "utf8"), readFileSync(join(out, "key.pem"), "utf8")] };
  } finally {
    await served.stop();
  }
}

describe("a certificate that fails the client's checks", () => {
  test("for other names: exit 1 with the reason; the earlier cert.pem and key.pem are untouched", async () => {
    const result = await runAgainst({ issue: (request) => request.mint({ dnsNames: ["evil.example"] }) });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `bun-acme: error: The certificate from ${result.served.origin}/cert/0 was refused, nothing was written: its names (evil.example) are not the names ordered (a.fake.test)`,
    );
    expect(result.files).toEqual(["the good certificate\n", "the good key\n"]);
    expect(result.stdout).not.toContain("written to");
  });

  test("for another key: exit 1, the pair on disk still matches", async () => {
    const result = await runAgainst({ issue: async (request) => request.mint({ spki: await spkiOf(await generateKeyPair("ec256")) }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("it certifies another public key than the one in the CSR");
    expect(result.files).toEqual(["the good certificate\n", "the good key\n"]);
  });
});

describe("URLs from the CA with another scheme than the directory's", () => {
  test("a file:// certificate URL is refused, naming it; no file is copied", async () => {
    const secret = join(makeTempDir("bun-acme-secret-"), "secret.pem");
    writeFileSync(secret, "-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----\n", { mode: 0o600 });
    const result = await runAgainst({ rewriteUrl: (kind, url) => (kind === "certificate" ? `file://${secret}` : url) });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`bun-acme: error: Refusing to follow file://${secret} from the CA: only http URLs are followed, as the directory's`);
    expect(result.files).toEqual(["the good certificate\n", "the good key\n"]);
  });

  test("a file:///dev/zero authorization URL is refused at once", async () => {
    const result = await runAgainst({ rewriteUrl: (kind, url) => (kind === "authorization" ? "file:///dev/zero" : url) });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("Refusing to follow file:///dev/zero from the CA: only http URLs are followed");
  });

  test("an https CA cannot send the certificate download to plain http", async () => {
    const tls = await makeTlsMaterial();
    const served = serveFakeCa(
      { rewriteUrl: (kind, url) => (kind === "certificate" ? url.replace("https:", "http:") : url) },
      { cert: readFileSync(tls.certFile, "utf8"), key: readFileSync(tls.keyFile, "utf8") },
    );
    const out = makeTempDir("bun-acme-hostile-");
    try {
      const result = await runClient([...fakeIssueArgs(served, out), "--ca", tls.rootFile]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(
        `bun-acme: error: Refusing to follow http://127.0.0.1:${new URL(served.origin).port}/cert/0 from the CA: only https URLs are followed, as the directory's`,
      );
      expect(existsSync(join(out, "cert.pem"))).toBe(false);
    } finally {
      await served.stop();
    }
  });
});

describe("bodies past the cap", () => {
  test("an endless certificate body: exit 1 at the 4 MiB cap, nothing written", async () => {
    const chunk = new Uint8Array(1 << 20).fill(0x41);
    const result = await runAgainst({
      intercept: (request) => {
        if (!new URL(request.url).pathname.startsWith("/cert/")) return undefined;
        const body = new ReadableStream<Uint8Array>({ pull: (controller) => controller.enqueue(chunk) }, { highWaterMark: 0 });
        return new Response(body, { headers: { "content-type": "application/pem-certificate-chain" } });
      },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`bun-acme: error: The CA's answer from ${result.served.origin}/cert/0 is larger than 4 MiB; stopped reading it there`);
    expect(result.files).toEqual(["the good certificate\n", "the good key\n"]);
  });
});

describe("GET /shutdown while the certificate is being obtained", () => {
  test("cancels: pending authorizations deactivated, exit 3 with one line, nothing written", async () => {
    const served = serveFakeCa({ onAnswer: "never" });
    const out = makeTempDir("bun-acme-hostile-");
    try {
      const client = startClient(fakeIssueArgs(served, out));
      await client.stdout.waitFor((line) => line.includes(": pending, 1 authorization(s)"), 20_000);
      const answer = await fetch("http://127.0.0.1:20003/shutdown");
      expect(answer.status).toBe(200);
      expect(await client.exited).toBe(3);
      await Promise.all([client.stdout.done, client.stderr.done]);
      expect(client.stderr.text().trim()).toBe(
        "bun-acme: error: GET /shutdown arrived before the certificate was obtained: cancelled, pending authorizations deactivated",
      );
      expect(client.stdout.text()).toContain(`Authorization ${served.origin}/authz/0 deactivated`);
      expect(served.ca.requests.filter((request) => request === "POST /authz/0").length).toBeGreaterThanOrEqual(2);
      expect(existsSync(join(out, "cert.pem"))).toBe(false);
    } finally {
      await served.stop();
    }
  });
});

describe("mistakes found before the first request to the CA", () => {
  /** Runs http01 into `<temp>/certs`; `change` edits the arguments and the temp folder first. */
  async function refusedBeforeAnyRequest(change: (args: string[], out: string) => string[] = (args) => args) {
    const served = serveFakeCa();
    const out = makeTempDir("bun-acme-preflight-");
    try {
      const result = await runClient(change(fakeIssueArgs(served, join(out, "certs")), out));
      return { ...result, requests: served.ca.requests, out };
    } finally {
      await served.stop();
    }
  }

  test("an HTTPS port equal to the http-01 port: exit 2, naming both flags", async () => {
    const result = await refusedBeforeAnyRequest((args) => replaceFlag(args, "--https-port", "20002"));
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe("bun-acme: error: --http-port 20002 is also the --https-port: give each server its own port (see --help)");
    expect(result.requests).toEqual([]);
  });

  test("an HTTPS port already taken: exit 2 before the CA is asked", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 20001, socket: { data() {} } });
    try {
      const result = await refusedBeforeAnyRequest();
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("Cannot start the certificate HTTPS server on 127.0.0.1:20001: the port is already in use");
      expect(result.requests).toEqual([]);
    } finally {
      holder.stop(true);
    }
  });

  test("an --out that cannot be created (under a file): exit 2 before the CA is asked", async () => {
    const result = await refusedBeforeAnyRequest((args, out) => (writeFileSync(join(out, "certs"), "a file\n"), args));
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`bun-acme: error: --out ${join(result.out, "certs")}: cannot use ${join(result.out, "certs")} (EEXIST) (see --help)`);
    expect(result.requests).toEqual([]);
  });

  test("a --state that cannot be written: exit 2 before the CA is asked, no account registered", async () => {
    const result = await refusedBeforeAnyRequest((args) => [...args, "--state", "/proc/bun-acme-state"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toStartWith("bun-acme: error: --state /proc/bun-acme-state: cannot use /proc/bun-acme-state (");
    expect(result.requests).toEqual([]);
  });

  test("a --state whose saved key cannot be read is an error, not a new account", async () => {
    const result = await refusedBeforeAnyRequest((args, out) => {
      mkdirSync(join(out, "state", "account-key.pem"), { recursive: true });
      return [...args, "--state", join(out, "state")];
    });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `bun-acme: error: --state ${join(result.out, "state")}: cannot use ${join(result.out, "state", "account-key.pem")} (EISDIR) (see --help)`,
    );
    expect(result.requests).toEqual([]);
  });
});

describe("--timeout covers the clean-up", () => {
  test("a CA that hangs while authorizations are deactivated: the run still ends at --timeout", async () => {
    const served = serveFakeCa({ onAnswer: "never", slowDeactivationMs: 60_000 });
    const out = makeTempDir("bun-acme-hostile-");
    try {
      const started = performance.now();
      const result = await runClient(replaceFlag(fakeIssueArgs(served, out), "--timeout", "3"));
      const seconds = (performance.now() - started) / 1000;
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe("bun-acme: error: Gave up waiting for the certificate (--timeout) after 3 s");
      // The deadline is a promise to the user, not a speed target: 3 s plus process start-up, never 3 + 5 s.
      expect(seconds).toBeLessThan(4.5);
    } finally {
      await served.stop();
    }
  });
});

describe("known causes get their own line, not \"unexpected error\"", () => {
  test("a malformed Location header names the URL and the header", async () => {
    const result = await runAgainst({ rewriteUrl: (kind, url) => (kind === "order" ? "http://[::1" : url) });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(`bun-acme: error: The CA sent a malformed Location header from ${result.served.origin}/order: "http://[::1"`);
  });
});

/** Whether this machine lets the tests mount a small tmpfs (root with CAP_SYS_ADMIN, as CI is). */
const canMountTmpfs = (() => {
  const probe = makeTempDir("bun-acme-mount-probe-");
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stderr: "ignore" }).exitCode === 0;
  if (mounted) Bun.spawnSync(["umount", probe]);
  return mounted;
})();

describe("a full disk", () => {
  test.skipIf(!canMountTmpfs)("ENOSPC while writing the certificate: exit 1 naming the file, the earlier pair untouched (needs a tmpfs mount)", async () => {
    const out = makeTempDir("bun-acme-full-");
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", out]).exitCode).toBe(0);
    try {
      writeFileSync(join(out, "cert.pem"), "the good certificate\n");
      writeFileSync(join(out, "key.pem"), "the good key\n", { mode: 0o600 });
      writeFileSync(join(out, "filler"), new Uint8Array(14 * 4096)); // the 16 pages of 64 KiB are now all used
      const served = serveFakeCa();
      try {
        const result = await runClient(fakeIssueArgs(served, out));
        expect(result.code).toBe(1);
        expect(result.stderr.trim()).toBe(
          `bun-acme: error: cannot use ${join(out, "key.pem")}: ENOSPC (no space left on the device; files already there are untouched)`,
        );
        expect([readFileSync(join(out, "cert.pem"), "utf8"), readFileSync(join(out, "key.pem"), "utf8")]).toEqual(["the good certificate\n", "the good key\n"]);
      } finally {
        await served.stop();
      }
    } finally {
      Bun.spawnSync(["umount", out]);
    }
  });
});
