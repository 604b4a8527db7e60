/**
 * How the command line words a hook that failed; the hooks themselves run in the library
 * (`src/hooks`).
 */
import type { HookResult } from "../hooks/index.ts";

/** One line for a hook that failed. */
export function describeHookFailure(kind: "pre" | "post" | "deploy", result: HookResult): string {
  const what = result.timedOut
    ? `was killed after ${result.timeoutSeconds ?? "?"} s (its time is --hook-timeout, and never beyond --timeout)`
    : `exited with ${result.exitCode}`;
  return `${kind} hook "${result.command}" ${what}${result.tail ? `: ${result.tail}` : ""}`;
}

