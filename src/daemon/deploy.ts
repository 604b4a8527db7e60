/**
 * A site's deploy hook, run by the daemon after each certificate it obtains or renews for the site.
 */
import { deployHookEnv, DEFAULT_HOOK_TIMEOUT_SECONDS, describeHookFailure, runHook, withLineageFolder } from "../hooks/index.ts";
import { failureOf, type EventSubject, type UntimedEvent } from "../lifecycle/index.ts";
import type { CertificateStore } from "../store/index.ts";
import type { SiteConfig } from "./config.ts";

/**
 * Runs a site's deploy hook (from the daemon's own configuration file, never from the store) with
 * RENEWED_LINEAGE a folder holding the certificate: the store's own, or for a shared store a
 * private copy removed afterwards. Stopped by `signal`, or after the hook time limit. A failure is
 * a `hook_failed` event, never an exception.
 */
export async function deploy(site: SiteConfig, event: EventSubject, store: CertificateStore, say: (event: UntimedEvent) => void, signal: AbortSignal): Promise<void> {
  const subject = { lineage: event.lineage, names: event.names, ...(event.ca ? { ca: event.ca } : {}) };
  const lineage = await store.load(event.lineage).catch((error: Error) => {
    say({ type: "hook_failed", hook: "deploy", ...subject, ...failureOf(error, `deploy hook not run: cannot read the lineage (${error.message})`) });
    return undefined;
  });
  if (!lineage) return;
  const result = await withLineageFolder(store.locate(event.lineage), lineage, (folder) =>
    runHook(site.deployHook!, deployHookEnv(folder, event.names), { signal, timeoutMs: DEFAULT_HOOK_TIMEOUT_SECONDS * 1000 }));
  if (result.exitCode !== 0) say({ type: "hook_failed", hook: "deploy", ...subject, error: describeHookFailure("deploy", result), exitCode: result.exitCode, output: result.tail });
}
