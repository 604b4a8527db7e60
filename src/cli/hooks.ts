/**
 * How the command line words a hook that failed; the hooks themselves run in the library
 * (`src/hooks`).
 */
import { describeHookFailure as describeFailure, type HookResult } from "../hooks/index.ts";

/** One line for a hook that failed, naming the flags that set its time limit. */
export function describeHookFailure(kind: "pre" | "post" | "deploy", result: HookResult): string {
  return describeFailure(kind, result, "its time is --hook-timeout, and never beyond --timeout");
}
