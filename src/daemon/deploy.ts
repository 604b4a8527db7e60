/**
 * A site's deploy hook, run by the daemon after each certificate it obtains or renews for the site.
 */
import { deployHookEnv, DEFAULT_HOOK_TIMEOUT_SECONDS, describeHookFailure, runHook, withLineageFolder, type HookResult } from "../hooks/index.ts";
import { failureOf, type EventSubject, type UntimedEvent } from "../lifecycle/index.ts";
import type { CertificateStore } from "../store/index.ts";
import type { SiteConfig } from "./config.ts";

/**
 * Where a deploy hook's time limit comes from, for the daemon's user: the site's
 * `deploy_hook_timeout` in serve.toml (the command line's `--hook-timeout` is not one of `serve`'s flags).
 */
const DAEMON_LIMIT_NOTE = "the site's deploy_hook_timeout in serve.toml, 300 s unless set";

/**
 * Runs a site's deploy hook (from the daemon's own configuration file, never from the store) with
 * RENEWED_LINEAGE a folder holding the certificate: the store's own, or for a shared store a
 * private copy removed afterwards. Stopped by `signal`, or after the hook time limit
 * (`timeoutMs`: the site's `deploy_hook_timeout`, default {@link DEFAULT_HOOK_TIMEOUT_SECONDS} s). A failure is a `hook_failed`
 * event, never an exception.
 */
export async function deploy(site: SiteConfig, event: EventSubject, store: CertificateStore, say: (event: UntimedEvent) => void, signal: AbortSignal, timeoutMs = site.deployHookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_SECONDS * 1000): Promise<void> {
  const subject = { lineage: event.lineage, names: event.names, ...(event.ca ? { ca: event.ca } : {}) };
  const lineage = await store.load(event.lineage).catch((error: Error) => {
    say({ type: "hook_failed", hook: "deploy", ...subject, ...failureOf(error, `deploy hook not run: cannot read the lineage (${error.message})`) });
    return undefined;
  });
  if (!lineage) return;
  const result = await withLineageFolder(store.locate(event.lineage), lineage, (folder) =>
    runHook(site.deployHook!, deployHookEnv(folder, event.names), { signal, timeoutMs }));
  if (result.exitCode !== 0) say({ type: "hook_failed", hook: "deploy", ...subject, error: daemonHookFailure(result, signal), exitCode: result.exitCode, output: result.tail });
}

/** The line for a deploy hook that failed in the daemon: killed at its limit, killed as the daemon stopped, or its exit code. */
function daemonHookFailure(result: HookResult, stopped: AbortSignal): string {
  if (result.timedOut && stopped.aborted) return `deploy hook "${result.command}" was killed as the daemon stopped${result.tail ? `: ${result.tail}` : ""}`;
  return describeHookFailure("deploy", result, DAEMON_LIMIT_NOTE);
}
