/**
 * certonly and renew when things go wrong: a CA that is down or rate-limits, a corrupted or
 * symlinked store file, a full store, a lineage locked by another run (live or dead). Lineages
 * come from the FAKE CA (tests/support/fake-ca.ts behind Bun.serve: it issues real chains for the
 * CSR's key); each case checks the one line the user gets and that nothing stored was lost.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { acquireFileLock } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import type { FakeCaScript } from "../support/fake-ca.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const NAME = "a.fake.test";

/** A store holding one lineage obtained from a fake CA that then follows `later`. */
async function storeWithLineage(later: FakeCaScript = {}, state = makeTempDir("bun-acme-faults-")) {
  const served = serveFakeCa();
  const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1",
    "--http-port", "20002", "--state", state]);
  expect(obtained.stderr).toBe("");
  expect(obtained.code).toBe(0);
  served.ca.follow(later);
  const folder = join(state, "certificates", NAME);
  const files = () => ["privkey.pem", "fullchain.pem", "metadata.json", "lineage.json"].map((file) => readFileSync(join(folder, file), "utf8"));
  return { served, state, folder, files, before: files() };
}

async function renew(state: string, extra: string[] = []) {
  return runClient(["renew", "--state", state, "--force", ...extra]);
}

async function withLineage(later: FakeCaScript, check: (lineage: Awaited<ReturnType<typeof storeWithLineage>>) => Promise<void>, stopCa = false) {
  const lineage = await storeWithLineage(later);
  try {
    if (stopCa) await lineage.served.stop();
    await check(lineage);
  } finally {
    await lineage.served.stop();
  }
}

describe("the CA fails during renew", () => {
  test("unreachable: one line naming the URL, exit 1, certificate and key untouched", async () => {
    await withLineage({}, async ({ state, files, before, served }) => {
      const result = await renew(state);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toStartWith(`${NAME}: failed: Cannot connect to ${served.directoryUrl}: `);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(files()).toEqual(before);
    }, true);
  });

  test("rateLimited with a Retry-After beyond the run: the CA's words and when to retry, one request, never a loop", async () => {
    const limited: FakeCaScript = {
      intercept: (request) => new URL(request.url).pathname === "/order" && request.method === "POST"
        ? Response.json({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many certificates for this name", status: 429 }, {
          status: 429, headers: { "content-type": "application/problem+json", "retry-after": "3600" },
        })
        : undefined,
    };
    await withLineage(limited, async ({ state, files, before, served }) => {
      const started = Date.now();
      const ordersBefore = served.ca.requests.filter((request) => request === "POST /order").length;
      const result = await renew(state);
      expect(result.code).toBe(1);
      const line = result.stderr.trim();
      expect(line).toStartWith(`${NAME}: failed: The CA refused the request to ${served.origin}/order: rateLimited: too many certificates for this name; the CA asks to retry after `);
      const retryAt = Date.parse(line.slice(line.lastIndexOf(" ") + 1));
      expect(retryAt - started).toBeGreaterThan(3_590_000);
      expect(served.ca.requests.filter((request) => request === "POST /order")).toHaveLength(ordersBefore + 1);
      expect(files()).toEqual(before);
    });
  });
});

describe("the store is damaged or in the way", () => {
  test("a corrupted metadata.json: the error names the file and what is wrong; nothing is overwritten", async () => {
    await withLineage({}, async ({ state, folder }) => {
      writeFileSync(join(folder, "metadata.json"), '{"version": 1, "serial": ');
      const result = await runClient(["renew", "--state", state]);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toMatch(
        new RegExp(`^${NAME}: failed: ${join(folder, "metadata.json").replaceAll(".", "\\.")} is not valid JSON \\(.*\\); it was not overwritten: restore or remove it$`),
      );
      expect(readFileSync(join(folder, "metadata.json"), "utf8")).toBe('{"version": 1, "serial": ');
      const listed = await runClient(["certificates", "--state", state]);
      expect(listed.code).toBe(1);
      expect(listed.stderr).toContain("is not valid JSON");
    });
  });

  test("a metadata.json with a wrong member names the member", async () => {
    await withLineage({}, async ({ state, folder }) => {
      const meta = JSON.parse(readFileSync(join(folder, "metadata.json"), "utf8"));
      writeFileSync(join(folder, "metadata.json"), JSON.stringify({ ...meta, nextRenewal: "soon" }));
      const result = await runClient(["renew", "--state", state]);
      expect(result.stderr.trim()).toBe(`${NAME}: failed: ${join(folder, "metadata.json")}: "nextRenewal" should be a date (ISO 8601); the file was not overwritten: restore or remove it`);
    });
  });

  test("a symlinked fullchain.pem is refused, not silently replaced; the key stays", async () => {
    await withLineage({}, async ({ state, folder, before }) => {
      const elsewhere = join(makeTempDir("bun-acme-elsewhere-"), "fullchain.pem");
      writeFileSync(elsewhere, before[1]!);
      rmSync(join(folder, "fullchain.pem"));
      symlinkSync(elsewhere, join(folder, "fullchain.pem"));
      const result = await renew(state);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toStartWith(`${NAME}: failed: ${join(folder, "fullchain.pem")} is a symbolic link; bun-acme replaces store files whole`);
      expect(readFileSync(join(folder, "privkey.pem"), "utf8")).toBe(before[0]!);
      expect(readFileSync(elsewhere, "utf8")).toBe(before[1]!);
    });
  });

  test.skipIf(!canMountTmpfs())("a full store (64 KiB tmpfs): ENOSPC named, the stored certificate and key intact (needs a tmpfs mount)", async () => {
    const state = makeTempDir("bun-acme-full-store-");
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", state]).exitCode).toBe(0);
    try {
      const lineage = await storeWithLineage({}, state);
      try {
        fillLeavingOnePage(join(state, "filler"));
        const result = await renew(state);
        expect(result.code).toBe(1);
        // The first file of the save that does not fit: the lineage's own, or the archived copy of the certificate it replaces.
        const where = [lineage.folder, join(state, "archive", NAME)].map((folder) => folder.replaceAll(".", "\\.")).join("|");
        expect(result.stderr.trim()).toMatch(new RegExp(`^${NAME}: failed: cannot use (${where})/\\S+: ENOSPC \\(no space left on the device; files already there are untouched\\)$`));
        expect(lineage.files()).toEqual(lineage.before);
      } finally {
        await lineage.served.stop();
      }
    } finally {
      Bun.spawnSync(["umount", state]);
    }
  });
});

describe("hooks that fail", () => {
  test("a failing deploy hook: its exit code and output tail are reported, exit 1, the new certificate stays saved", async () => {
    await withLineage({}, async ({ state, folder, files, before }) => {
      const config = JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"));
      writeFileSync(join(folder, "lineage.json"), JSON.stringify({ ...config, hooks: { deploy: "echo reloading; echo 'nginx: [emerg] bad config' >&2; exit 3" } }));
      const result = await renew(state);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`${NAME}: renewed (serial `);
      expect(result.stderr.trim()).toBe(`${NAME}: deploy hook "echo reloading; echo 'nginx: [emerg] bad config' >&2; exit 3" exited with 3: reloading | nginx: [emerg] bad config`);
      expect(files()[0]).not.toBe(before[0]); // the new key is saved
    });
  });

  test("a failing pre-hook stops that renewal before the CA is asked", async () => {
    await withLineage({}, async ({ state, folder, files, served }) => {
      const config = JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"));
      writeFileSync(join(folder, "lineage.json"), JSON.stringify({ ...config, hooks: { pre: "exit 7" } }));
      const stored = files();
      const orders = served.ca.requests.filter((request) => request === "POST /order").length;
      const result = await renew(state);
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe(`${NAME}: failed: pre hook "exit 7" exited with 7`);
      expect(served.ca.requests.filter((request) => request === "POST /order")).toHaveLength(orders);
      expect(files()).toEqual(stored);
    });
  });
});

describe("a lineage another run is working on", () => {
  test("held by a live process: --lock-wait 0 gives up at once, naming the holder", async () => {
    await withLineage({}, async ({ state, folder, files, before }) => {
      const lock = await acquireFileLock(join(folder, ".lock"), "test");
      try {
        const result = await renew(state, ["--lock-wait", "0"]);
        expect(result.code).toBe(1);
        expect(result.stderr.trim()).toMatch(new RegExp(`^${NAME}: failed: Lineage ${NAME.replaceAll(".", "\\.")} is locked by process ${process.pid} on ${hostname()} \\(since \\S+\\); gave up after waiting 0 s$`));
        expect(files()).toEqual(before);
      } finally {
        await lock.release();
      }
    });
  });

  test("left by a process that died: the stale lock is taken over and the renewal goes ahead", async () => {
    await withLineage({}, async ({ state, folder, files, before }) => {
      const dead = Bun.spawn(["true"]);
      await dead.exited;
      writeFileSync(join(folder, ".lock"), JSON.stringify({ pid: dead.pid, host: hostname(), since: new Date().toISOString(), token: "dead" }));
      const result = await renew(state, ["--lock-wait", "0"]);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`${NAME}: renewed (serial `);
      expect(files()[2]).not.toBe(before[2]);
    });
  });
});

/** Whether this machine lets the tests mount a small tmpfs (root with CAP_SYS_ADMIN, as CI is). */
function canMountTmpfs(): boolean {
  const probe = makeTempDir("bun-acme-mount-probe-");
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stderr: "ignore" }).exitCode === 0;
  if (mounted) Bun.spawnSync(["umount", probe]);
  return mounted;
}

/** Fills the file system holding `path` until it is full, then frees one 4 KiB page (room for a lock file, not for a lineage). */
function fillLeavingOnePage(path: string): void {
  const fd = openSync(path, "w");
  const page = new Uint8Array(4096);
  let size = 0;
  try {
    for (;;) size += writeSync(fd, page);
  } catch {
    // ENOSPC: full
  } finally {
    closeSync(fd);
  }
  truncateSync(path, Math.max(0, size - 4096));
}
