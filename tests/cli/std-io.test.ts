/**
 * The CLI's standard output (src/cli/std-io.ts) on a real OS pipe whose reader lags or stalls
 * (tests/support/pipe_reader.py, Python's subprocess: Bun's own spawn reads a child's output
 * eagerly, so it never lags): nothing written is lost when the process exits, and a reader that
 * does not read never stops the event loop (the daemon keeps serving while its log waits).
 */
import { expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";

const WRITER = join(ROOT, "tests", "support", "std-io-writer.ts");
const READER = join(ROOT, "tests", "support", "pipe_reader.py");
/** 2 MB of lines: far more than a pipe holds (64 KiB). */
const LINES = 2_000;

/** Runs the writer under the Python reader; what the reader saw. `gone`: the reader closed its end before the writer started. */
async function throughPipe(mode: "lag" | "stall" | "bounded" | "gone" | "merged", timeoutSeconds: number, lines = LINES, length = 1000): Promise<{ bytes: number; code: number | null; said: string }> {
  const readerMode = mode === "bounded" ? "stall" : mode;
  const writerMode = mode === "lag" ? "drain" : mode === "gone" ? "stall" : mode === "merged" ? "alternate" : mode;
  const reader = Bun.spawn(["python3", READER, readerMode, String(timeoutSeconds), process.execPath, WRITER, writerMode, String(lines), String(length)], { cwd: ROOT, stdout: "pipe", stderr: "inherit" });
  const [text, code] = await Promise.all([new Response(reader.stdout).text(), reader.exited]);
  expect(code).toBe(0);
  return JSON.parse(text);
}

test("every line reaches a reader that starts reading only once the writer has written them all", async () => {
  const seen = await throughPipe("lag", 20);
  expect(seen.said).toContain("written");
  expect(seen.code).toBe(0);
  expect(seen.bytes).toBe(LINES * 1000); // without the drain at exit: 64 KiB, what the pipe held
}, 30_000);

test("a reader that never reads does not stop the writer's event loop", async () => {
  const seen = await throughPipe("stall", 10);
  // A blocking write would hold the writer inside its writes: no "written", no timer, killed at the limit.
  expect(seen.said).toContain("written");
  expect(seen.said).toContain("ticked");
  expect(seen.code).toBe(0);
}, 20_000);

test("the drain at exit gives up on a reader that never reads: the process still ends", async () => {
  const seen = await throughPipe("bounded", 10);
  expect(seen.said).toContain("ticked");
  expect(seen.code).toBe(0); // null: still running at the reader's 10 s limit, held by the drain
}, 20_000);

test("a line of 4 KiB or more to a reader that went away is dropped like a short one: no unhandled EPIPE", async () => {
  // Bun's FileSink answers a write of 4096 bytes or more with a Promise, which rejects with EPIPE here.
  const seen = await throughPipe("gone", 10, 3, 5_000);
  expect(seen.said).toBe("written\nticked\n"); // unhandled: "EPIPE: broken pipe, write" and its stack, exit code 1
  expect(seen.code).toBe(0);
}, 20_000);

for (const length of [1_000, 5_000]) {
  test(`a standard output that fails otherwise (/dev/full: ENOSPC) drops its lines of ${length} bytes, says so once, and the command goes on`, async () => {
    const full = openSync("/dev/full", "w");
    try {
      const writer = Bun.spawn([process.execPath, WRITER, "stall", "3", String(length)], { cwd: ROOT, stdout: full, stderr: "pipe" });
      const [said, code] = await Promise.all([new Response(writer.stderr).text(), writer.exited]);
      // Thrown from io.out into the command, it aborted an issuance and stopped serve's renewals.
      // A line of 4 KiB or more fails later (its write answers a Promise): the warning may come after "written".
      expect(said.split("\n").filter(Boolean).sort()).toEqual(["bun-acme: warning: cannot write standard output (ENOSPC): its lines are dropped while this lasts", "ticked", "written"]);
      expect(code).toBe(0);
    } finally {
      closeSync(full);
    }
  }, 20_000);
}

test("standard output and error on one pipe (2>&1) keep their lines' order while the reader lags", async () => {
  const seen = await throughPipe("merged", 20, 400, 1_000); // 400 KB: far more than the pipe holds
  const numbers = seen.said.split("\n").filter(Boolean).map((line) => Number(line.split(" ")[0]));
  expect(seen.code).toBe(0);
  // With a sink per stream, each held its own backlog: an error line overtook the output lines before it.
  expect(numbers).toEqual(Array.from({ length: 400 }, (_, index) => index));
}, 30_000);

test("main() drains its output without a limit when no signal stopped it (a slow `| less` gets every line)", async () => {
  const { main } = await import("../../src/cli/index.ts");
  const limits: (number | undefined)[] = [];
  const lines: string[] = [];
  const code = await main(["--version"], { env: {}, out: (line) => lines.push(line), err: (line) => lines.push(line), drain: async (limitMs) => void limits.push(limitMs) });
  expect(code).toBe(0);
  expect(lines).toHaveLength(1);
  expect(limits).toEqual([undefined]); // a number: output cut off after that long however alive the reader
});
