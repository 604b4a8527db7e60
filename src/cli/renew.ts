/**
 * `renew`: renews every stored certificate that is due, for cron or a systemd timer. One line per
 * certificate; exit 0 when all are fine, 1 when any failed. A failure leaves the stored
 * certificate and key as they were, and the next run tries again.
 * @see https://www.rfc-editor.org/rfc/rfc9773 (when: the CA's ARI window, else a third of the lifetime left)
 */
import { certificateOf, failureOf, isDue, needsRenewalInfo } from "../lifecycle/index.ts";
import { checkLineageName, StoreError, type CertificateStore, type LineageConfig, type LineageHooks, type LineageSummary } from "../store/index.ts";
import { openCommandStore, readStoreLocation, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { describeError, ExitCode, UsageError, withFlag } from "./errors.ts";
import { STORE_FLAGS_HELP } from "./certonly.ts";
import { DEFAULT_HOOK_TIMEOUT_SECONDS } from "../hooks/index.ts";
import { HookSession, hookRunOptions, runLineage, type LineageRun } from "./lineage-run.ts";
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
  const hooks = new HookSession(hookRunOptions(options, reporter, context));
  const run: LineageRun = {
    store,
    context,
    log: () => {},
    dryRun: options.dryRun,
    force: options.force || options.dryRun,
    lockWaitSeconds: options.lockWaitSeconds,
    hooks,
    issuers: new Map(),
  };
  let failures = 0;
  for (const name of names) {
    if (!(await renewOne(name, run, options, reporter))) failures++;
  }
  for (const failure of await hooks.after()) {
    reporter.report({ type: "hook_failed", hook: "post", error: failure });
    failures++;
  }
  return failures > 0 ? ExitCode.FAILURE : ExitCode.OK;
}

/**
 * Renews one lineage if it is due (the lifecycle engine: under its lock, read again); reports
 * it; returns whether all went well. A lineage that is plainly not due (nothing to ask the CA) is
 * reported from its summary alone, so that a run over thousands of lineages costs two small file
 * reads each.
 */
async function renewOne(name: string, run: LineageRun, options: RenewOptions, reporter: Reporter): Promise<boolean> {
  let names: readonly string[] = [];
  try {
    const summary = (await run.store.summary(name))!;
    names = summary.config.identifiers.map((identifier) => identifier.value);
    if (!run.force && !needsRenewalInfo(summary.meta) && !isDue(summary.meta)) {
      reporter.report({ type: "not_due", ...certificateOf(summary) });
      return true;
    }
    const event = await runLineage(runnableConfig(name, summary, options.hooks, run.store), run);
    reporter.report(event);
    return event.type !== "failed" && !("hookError" in event && event.hookError);
  } catch (error) {
    reporter.report({ type: "failed", lineage: name, names, ...failureOf(error, describeError(error, run.context.io.env)) });
    return false;
  }
}

/**
 * The configuration to renew with: hooks given on the command line replace the stored ones, and
 * nothing stored that runs a command (hooks, a dns-01 hook solver) is used unless the store vouches for it
 * (a file only this user or root can write, or a record sealed with the store's key).
 *
 * @throws {StoreError} `ERR_STORE_UNSEALED_HOOKS` naming what would have run and how to give it safely
 */
function runnableConfig(name: string, summary: LineageSummary, local: LineageHooks, store: CertificateStore): LineageConfig {
  const given = Object.keys(local).length > 0;
  const config: LineageConfig = given ? { ...summary.config, cli: { ...summary.config.cli, hooks: local } } : summary.config;
  if (summary.authenticated) return config;
  const stored = Object.entries(summary.config.cli?.hooks ?? {}).filter(([, command]) => command).map(([kind]) => `${kind} hook`);
  if (!given && stored.length > 0) {
    throw new StoreError(
      `${store.description} lineage ${name}: its ${stored.join(", ")} ${stored.length > 1 ? "are" : "is"} not run, since the store does not seal its records (anyone who can write to it could have put ${stored.length > 1 ? "them" : "it"} there): give hooks on this command line (renew --pre-hook, --post-hook, --deploy-hook), or set BUN_ACME_STORE_KEY and obtain the certificate again with certonly --force to seal them`,
      "ERR_STORE_UNSEALED_HOOKS",
    );
  }
  if (config.solver.via === "hook") {
    throw new StoreError(
      `${store.description} lineage ${name}: its --dns-hook command is not run, since the store does not seal its records: set BUN_ACME_STORE_KEY and obtain the certificate again with certonly --force to seal it`,
      "ERR_STORE_UNSEALED_HOOKS",
    );
  }
  return config;
}
