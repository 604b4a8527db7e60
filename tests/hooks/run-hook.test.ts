/**
 * runHook() with a real sh: what a hook can see of our environment, and that its time limit kills
 * everything it started (its process group), while what it leaves running in the background after
 * a normal exit does not hold the run up.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describeHookFailure } from "../../src/cli/hooks.ts";
import { hookEnvironment, runHook } from "../../src/hooks/index.ts";
import { makeTempDir } from "../support/temp.ts";

/** Whether a process runs (a zombie left for a container's init to reap does not). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("runHook()", () => {
  test("a hook sees PATH, HOME, LANG and RENEWED_*, never BUN_ACME_STORE_KEY or another secret of ours", async () => {
    process.env.BUN_ACME_STORE_KEY = "c2VjcmV0LXN0b3JlLWtleS1vZi0zMi1ieXRlcy4uLi4=";
    process.env.AWS_SECRET_ACCESS_KEY = "aws-secret";
    process.env.LANG = "C.UTF-8";
    try {
      const result = await runHook("env", { RENEWED_LINEAGE: "/x", RENEWED_DOMAINS: "a.test b.test" });
      expect(result.exitCode).toBe(0);
      const seen = new Set<string>();
      const lines: string[] = [];
      await runHook("env", { RENEWED_LINEAGE: "/x" }, { onOutput: (line) => lines.push(line) });
      for (const line of lines) seen.add(line.slice(0, line.indexOf("=")));
      expect(seen.has("PATH")).toBe(true);
      expect(seen.has("HOME")).toBe(true);
      expect(lines).toContain("LANG=C.UTF-8");
      expect(lines).toContain("RENEWED_LINEAGE=/x");
      expect(seen.has("BUN_ACME_STORE_KEY")).toBe(false);
      expect(seen.has("AWS_SECRET_ACCESS_KEY")).toBe(false);
      expect(Object.keys(hookEnvironment({}, { BUN_ACME_STORE_KEY: "k", REDIS_PASSWORD: "p", PATH: "/bin", LC_ALL: "C" })).sort()).toEqual(["LC_ALL", "PATH"]);
    } finally {
      delete process.env.BUN_ACME_STORE_KEY;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  test("past its time the hook and what it started (its process group) are killed; the failure says so with its output", async () => {
    const dir = makeTempDir("bun-acme-hook-");
    const started = Date.now();
    // 3 s: time enough, even on a machine with a load of 12 on 2 cores (seen), for the shell to start its child and print its line.
    const result = await runHook(`sleep 60 & echo $! > ${join(dir, "child")}; echo working; sleep 60`, {}, { timeoutMs: 3_000 });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(result.timedOut).toBe(true);
    expect(result.exitCode).toBe(124);
    const child = Number(readFileSync(join(dir, "child"), "utf8"));
    expect(alive(child)).toBe(false);
    expect(describeHookFailure("deploy", result)).toMatch(/^deploy hook "sleep 60 & .*" was killed after \d+ s \(its time is --hook-timeout, and never beyond --timeout\): working$/);
  });

  test("an aborted signal (the end of --timeout) kills it too", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const result = await runHook("sleep 60", {}, { signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(result.timedOut).toBe(true);
  });

  test("a hook that exits leaving a process in the background returns at once", async () => {
    const dir = makeTempDir("bun-acme-hook-");
    const started = Date.now();
    const result = await runHook(`sleep 30 & echo $! > ${join(dir, "child")}; echo started`);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(result).toEqual({ command: result.command, exitCode: 0, tail: "started" });
    const child = Number(readFileSync(join(dir, "child"), "utf8"));
    expect(alive(child)).toBe(true); // left alone: it may be a daemon the hook meant to start
    process.kill(child, "SIGKILL");
    expect(existsSync(dir)).toBe(true);
  });
});
