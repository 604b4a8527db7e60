/**
 * The one schema check of `--json` output, shared by the certonly, renew and daemon tests: every
 * line of stdout must be a `LifecycleEvent` as `parseEventLine` (the library's reader) checks it.
 */
import { parseEventLine, type LifecycleEvent } from "../../src/lifecycle/index.ts";

/**
 * Every non-empty line of `stdout` as an event.
 *
 * @throws {Error} naming the first line that is not one, and why
 */
export function eventLines(stdout: string): LifecycleEvent[] {
  return stdout.split("\n").filter((line) => line.trim() !== "").map((line, index) => {
    try {
      return parseEventLine(line);
    } catch (error) {
      throw new Error(`line ${index + 1} of the --json output is not an event (${(error as Error).message}): ${line}`);
    }
  });
}
