/**
 * A child process for tests/cli/std-io.test.ts: writes lines through the CLI's standard output
 * (standardIo) as a command does, then says so on standard error ("written") and exits.
 *   bun tests/support/std-io-writer.ts drain LINES   drains standard output, then exits
 *   bun tests/support/std-io-writer.ts stall LINES   once written, says "ticked" when a timer fires, then exits without draining
 *   bun tests/support/std-io-writer.ts bounded LINES drains with a 300 ms limit (says "ticked" first), then exits
 */
import { writeSync } from "node:fs";
import { standardIo } from "../../src/cli/std-io.ts";

const [mode, count] = [process.argv[2], Number(process.argv[3])];
const io = standardIo(mode === "bounded" ? 300 : undefined);
const line = "x".repeat(999);
for (let index = 0; index < count; index++) io.out(line);
writeSync(2, "written\n");
if (mode === "drain") {
  await io.drain();
  process.exit(0);
}
setTimeout(async () => {
  writeSync(2, "ticked\n");
  if (mode === "bounded") await io.drain();
  process.exit(0);
}, 1);
