/**
 * The command line with its standard output on a full disk (/dev/full, a real device: every write
 * fails with ENOSPC), against a real Pebble: a log line that cannot be written is not a failed
 * issuance.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, openSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";
import { usePebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

describe("standard output on a full disk", () => {
  const pebble = usePebble();

  test("certonly with standard output on /dev/full obtains and stores the certificate, with one warning on standard error", async () => {
    const state = makeTempDir("bun-acme-full-output-");
    const full = openSync("/dev/full", "w");
    try {
      const child = Bun.spawn([process.execPath, "run", join(ROOT, "src", "main.ts"), "certonly", "dns01", "--dir", pebble().directoryUrl, "--ca", pebble().tlsRootFile,
        "--domain", "full.output.test", "--dns-port", "10053", "--bind", "127.0.0.1", "--state", state], { cwd: ROOT, stdin: "ignore", stdout: full, stderr: "pipe" });
      const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
      // Thrown into the command: "bun-acme: error: unexpected error: ENOSPC: no space left on device, write", exit 1, nothing stored.
      expect(stderr).toBe("bun-acme: warning: cannot write standard output (ENOSPC): its lines are dropped while this lasts\n");
      expect(code).toBe(0);
      expect(existsSync(join(state, "certificates", "full.output.test", "fullchain.pem"))).toBe(true);
    } finally {
      closeSync(full);
    }
  });
});
