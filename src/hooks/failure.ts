import type { HookResult } from "./run-hook.ts";

/**
 * One line for a hook that failed: `deploy hook "CMD" exited with 3: TAIL`, or for one killed at
 * its time limit `... was killed after 300 s (NOTE): TAIL`, where `limitNote` says where that limit
 * is set (the command line names its flags; the daemon has none).
 */
export function describeHookFailure(kind: "pre" | "post" | "deploy", result: HookResult, limitNote?: string): string {
  const what = result.timedOut
    ? `was killed after ${result.timeoutSeconds ?? "?"} s${limitNote ? ` (${limitNote})` : ""}`
    : `exited with ${result.exitCode}`;
  return `${kind} hook "${result.command}" ${what}${result.tail ? `: ${result.tail}` : ""}`;
}
