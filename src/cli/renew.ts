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
import { checkLineageName, StoreError, type CertificateStore, type LineageConfig, type LineageHooks, type LineageSummary } from "../store/index.ts";
import { openCommandStore, readStoreLocation, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { describeError, ExitCode, UsageError, withFlag } from "./errors.ts";
import { STORE_FLAGS_HELP } from "./certonly.ts";
import { DEFAULT_HOOK_TIMEOUT_SECONDS } from "./hooks.ts";
import { HookSession, hookRunOptions, issueLineage, rootsFor, type LineageRun } from "./lineage-run.ts";
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
  /** Hooks given on the command line: used instead of the stored ones. */
  readonly hooks: LineageHooks;
  readonly hookTimeoutSeconds: number;
  readonly verbose: boolean;
}

/** The `renew` command: its flags, parser and run function. */
export const renewCommand: Command<RenewOptions> = {
  name: "renew",
  synopsis: "renew [--state DIR | --store URL] [--cert-name NAME] [--force | --dry-run] [--deploy-hook CMD] [--json]",
  summary: "renew every stored certificate that is due (the CA's ARI window, else a third of its lifetime left), with the settings it was obtained with",
  flags: ["--ca", "--timeout", "--state", "--store", "--cert-name", "--force", "--dry-run", "--json", "--lock-wait", "--pre-hook", "--post-hook", "--deploy-hook", "--hook-timeout", "--verbose"],
  helpFor: {
    ...STORE_FLAGS_HELP,
    "--ca": "PEM root(s) to verify the CA's TLS certificate, instead of the ones saved with each lineage ($BUN_ACME_CA and project/pebble.minica.pem, when there, do the same)",
    "--cert-name": "renew only this lineage (see: bun-acme certificates)",
    "--force": "renew even the certificates that are not due",
    "--dry-run": "the whole exchange with the CA for each lineage, but nothing is saved and no deploy hook runs; pre and post hooks do run",
    "--pre-hook": "shell command run once before the first renewal, instead of the pre hooks saved with the lineages",
    "--post-hook": "shell command run once after the renewals, instead of the post hooks saved with the lineages",
    "--deploy-hook": "shell command run after each certificate renewed, instead of the hooks saved with the lineage; it gets RENEWED_LINEAGE (a folder holding cert.pem, chain.pem, fullchain.pem, privkey.pem; a private copy for a shared store), RENEWED_DOMAINS, PATH, HOME and the locale",
  },
  timeoutWhat: "the renewals (--timeout)",
  parse(flags) {
    flags.noPositionals();
    if (flags.has("--force") && flags.has("--dry-run")) throw new UsageError("choose one of --force and --dry-run");
    const certName = flags.single("--cert-name");
    const hook = (flag: "--pre-hook" | "--post-hook" | "--deploy-hook", key: keyof LineageHooks) => {
      const command = flags.single(flag);
      return command === undefined ? {} : { [key]: command };
    };
    return {
      hooks: { ...hook("--pre-hook", "pre"), ...hook("--post-hook", "post"), ...hook("--deploy-hook", "deploy") },
      hookTimeoutSeconds: readSeconds(flags, "--hook-timeout", DEFAULT_HOOK_TIMEOUT_SECONDS),
      verbose: flags.has("--verbose"),
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
  const hookOptions = hookRunOptions(options, reporter, context);
  const hooks = new HookSession(hookOptions);
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
      const config = runnableConfig(name, summary, options.hooks, store);
      const preFailure = await hooks.before(config);
      if (preFailure) {
        reporter.report({ event: "failed", lineage: name, names, error: preFailure });
        return false;
      }
      const event = await issueLineage(config, {
        store,
        context,
        hooks: hooks.options,
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
 * The configuration to renew with: hooks given on the command line replace the stored ones, and
 * nothing stored that runs a command (hooks, `dnsHook`) is used unless the store vouches for it
 * (a file only this user or root can write, or a record sealed with the store's key).
 *
 * @throws {StoreError} `ERR_STORE_UNSEALED_HOOKS` naming what would have run and how to give it safely
 */
function runnableConfig(name: string, summary: LineageSummary, local: LineageHooks, store: CertificateStore): LineageConfig {
  const given = Object.keys(local).length > 0;
  const config = given ? { ...summary.config, hooks: local } : summary.config;
  if (summary.authenticated) return config;
  const stored = Object.entries(summary.config.hooks).filter(([, command]) => command).map(([kind]) => `${kind} hook`);
  if (!given && stored.length > 0) {
    throw new StoreError(
      `${store.description} lineage ${name}: its ${stored.join(", ")} ${stored.length > 1 ? "are" : "is"} not run, since the store does not seal its records (anyone who can write to it could have put ${stored.length > 1 ? "them" : "it"} there): give hooks on this command line (renew --pre-hook, --post-hook, --deploy-hook), or set BUN_ACME_STORE_KEY and obtain the certificate again with certonly --force to seal them`,
      "ERR_STORE_UNSEALED_HOOKS",
    );
  }
  if (config.dnsHook !== undefined) {
    throw new StoreError(
      `${store.description} lineage ${name}: its --dns-hook command is not run, since the store does not seal its records: set BUN_ACME_STORE_KEY and obtain the certificate again with certonly --force to seal it`,
      "ERR_STORE_UNSEALED_HOOKS",
    );
  }
  return config;
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
