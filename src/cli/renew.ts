/**
 * `renew`: renews every stored certificate that is due, for cron or a systemd timer. One line per
 * certificate; exit 0 when all are fine, 1 when any failed. A failure leaves the stored
 * certificate and key as they were, and the next run tries again.
 * @see https://www.rfc-editor.org/rfc/rfc9773 (when: the CA's ARI window, else a third of the lifetime left)
 */
import { resolve } from "node:path";
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { isDue, needsRenewalInfo, scheduleRenewal } from "../lifecycle/index.ts";
import { checkLineageName, type CertificateStore, type LineageSummary } from "../store/index.ts";
import { openCommandStore, readStoreLocation, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { describeError, ExitCode, UsageError, withFlag } from "./errors.ts";
import { HookSession, issueLineage, rootsFor, type LineageRun } from "./lineage-run.ts";
import { Reporter } from "./report.ts";
import { readSeconds, readTimeout } from "./values.ts";

/** Everything `renew` needs. */
export interface RenewOptions extends BaseOptions {
  readonly store: StoreLocation;
  readonly certName: string | undefined;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly lockWaitSeconds: number;
}

/** The `renew` command: its flags, parser and run function. */
export const renewCommand: Command<RenewOptions> = {
  name: "renew",
  synopsis: "renew [--state DIR | --store URL] [--cert-name NAME] [--force] [--dry-run] [--json]",
  summary: "renew every stored certificate that is due (the CA's ARI window, else a third of its lifetime left), with the settings it was obtained with",
  flags: ["--ca", "--timeout", "--state", "--store", "--cert-name", "--force", "--dry-run", "--json", "--lock-wait"],
  timeoutWhat: "the renewals (--timeout)",
  parse(flags) {
    flags.noPositionals();
    if (flags.has("--force") && flags.has("--dry-run")) throw new UsageError("choose one of --force and --dry-run");
    const certName = flags.single("--cert-name");
    return {
      store: readStoreLocation(flags),
      certName: certName === undefined ? undefined : withFlag("--cert-name", () => checkLineageName(certName)),
      force: flags.has("--force"),
      dryRun: flags.has("--dry-run"),
      json: flags.has("--json"),
      lockWaitSeconds: readSeconds(flags, "--lock-wait", 30),
      caFile: flags.single("--ca"),
      timeoutSeconds: readTimeout(flags),
    };
  },
  run: runRenew,
};

async function runRenew(options: RenewOptions, context: CommandContext): Promise<number> {
  const reporter = new Reporter(context.io, options.json);
  const store = openCommandStore(options.store, context.io.env);
  try {
    return await renewAll(store, options, context, reporter);
  } finally {
    await store.close?.();
  }
}

async function renewAll(store: CertificateStore, options: RenewOptions, context: CommandContext, reporter: Reporter): Promise<number> {
  const names = options.certName ? [options.certName] : await store.list();
  if (options.certName && !(await store.list()).includes(options.certName)) {
    throw new UsageError(`--cert-name ${options.certName}: no such certificate in ${store.description} (see: bun-acme certificates)`);
  }
  if (names.length === 0) reporter.progress(`No certificates in ${store.description}: obtain one with bun-acme certonly`);
  const hooks = new HookSession();
  const connections: LineageRun["connections"] = new Map();
  let failures = 0;
  for (const name of names) {
    if (!(await renewOne(name, store, options, context, reporter, hooks, connections))) failures++;
  }
  for (const failure of await hooks.after()) {
    reporter.report({ event: "failed", lineage: "(post hook)", names: [], error: failure });
    failures++;
  }
  return failures > 0 ? ExitCode.FAILURE : ExitCode.OK;
}

/**
 * Renews one lineage if it is due (under its lock); reports it; returns whether all went well.
 * A lineage that is plainly not due (nothing to ask the CA) is reported without taking the lock,
 * so that a run over thousands of lineages costs two small file reads each.
 */
async function renewOne(
  name: string,
  store: CertificateStore,
  options: RenewOptions,
  context: CommandContext,
  reporter: Reporter,
  hooks: HookSession,
  connections: LineageRun["connections"],
): Promise<boolean> {
  let names: readonly string[] = [];
  try {
    if (!options.force && !options.dryRun) {
      const glance = (await store.summary(name))!;
      names = glance.config.identifiers.map((identifier) => identifier.value);
      if (!needsRenewalInfo(glance.meta) && !isDue(glance.meta)) {
        reporter.report({ event: "not_due", lineage: name, names, meta: glance.meta });
        return true;
      }
    }
    const lock = await store.lock(name, { waitMs: options.lockWaitSeconds * 1000, signal: context.deadline });
    try {
      // Read under the lock: a run that held it may have just renewed this lineage.
      const summary = await refreshedSummary(name, store, options, context);
      names = summary.config.identifiers.map((identifier) => identifier.value);
      if (!options.force && !options.dryRun && !isDue(summary.meta)) {
        reporter.report({ event: "not_due", lineage: name, names, meta: summary.meta });
        return true;
      }
      const preFailure = await hooks.before(summary.config);
      if (preFailure) {
        reporter.report({ event: "failed", lineage: name, names, error: preFailure });
        return false;
      }
      const event = await issueLineage(summary.config, {
        store,
        context,
        log: () => {},
        dryRun: options.dryRun,
        success: "renewed",
        lock,
        connections,
        ...(summary.meta.ariCertId ? { replaces: summary.meta.ariCertId } : {}),
      });
      reporter.report(event);
      return event.hookError === undefined;
    } finally {
      await lock.release();
    }
  } catch (error) {
    reporter.report({ event: "failed", lineage: name, names, error: describeError(error, context.io.env) });
    return false;
  }
}

/**
 * The lineage's summary, its renewal time asked again from the CA's renewalInfo when the CA's
 * Retry-After has passed (and saved, unless this is a dry run).
 */
async function refreshedSummary(name: string, store: CertificateStore, options: RenewOptions, context: CommandContext): Promise<LineageSummary> {
  const summary = (await store.summary(name))!;
  if (!needsRenewalInfo(summary.meta)) return summary;
  const lineage = (await store.load(name))!;
  const leafDer = decodePemBlocks(lineage.chainPem)[0]!.der;
  const transport = context.transport(summary.config.directoryUrl, rootsFor(summary.config, context));
  const meta = { ...summary.meta, ...(await scheduleRenewal(leafDer, readCertificate(leafDer), transport)) };
  if (!options.dryRun) await store.saveMeta(name, meta);
  return { ...summary, meta };
}
