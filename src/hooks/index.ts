/**
 * Hooks: shell commands run around an issuance with certbot's variable names, a scrubbed
 * environment, a process group of their own and a time limit. The command line's pre, post and
 * deploy hooks and the daemon's deploy hook run through here; a program using `manage()` may too.
 * @see https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
 * @module
 */
export { describeHookFailure } from "./failure.ts";
export { withLineageFolder, writeLineageFiles } from "./lineage-folder.ts";
export { DEFAULT_HOOK_TIMEOUT_SECONDS, deployHookEnv, hookEnvironment, runHook, type HookOptions, type HookResult } from "./run-hook.ts";
