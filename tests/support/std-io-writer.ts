/**
 * A child process for tests/cli/std-io.test.ts: writes lines through the CLI's standard output
 * (standardIo) as a command does, then says so on standard error ("written") and exits.
 *   bun tests/support/std-io-writer.ts drain LINES [LENGTH]   drains standard output, then exits
 *   bun tests/support/std-io-writer.ts stall LINES [LENGTH]   once written, says "ticked" when a timer fires, then exits without draining
 *   bun tests/support/std-io-writer.ts bounded LINES [LENGTH] drains with a 300 ms limit (says "ticked" first), then exits
 *   bun tests/support/std-io-writer.ts alternate LINES [LENGTH] numbered lines, even ones to standard output and odd ones
 *     to standard error (through standardIo's err), drains, then exits; says nothing else
 * Each line is LENGTH bytes with its newline (default 1000).
 */
import { writeSync } from "node:fs";
import { standardIo } from "../../src/cli/std-io.ts";

const [mode, count, length] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4] ?? 1000)];
const io = standardIo();
const line = "x".repeat(length - 1);
if (mode === "alternate") {
  for (let index = 0; index < count; index++) (index % 2 === 0 ? io.out : io.err)(`${index} ${line}`.slice(0, length - 1));
  await io.drain();
  process.exit(0);
}
for (let index = 0; index < count; index++) io.out(line);
writeSync(2, "written\n");
if (mode === "drain") {
  await io.drain();
  process.exit(0);
}
setTimeout(async () => {
  writeSync(2, "ticked\n");
  if (mode === "bounded") await io.drain(300);
  process.exit(0);
}, 1);
