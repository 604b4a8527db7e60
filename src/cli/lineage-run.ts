/**
 * One lineage through the lifecycle engine, shared by `certonly` and `renew`: the issuer of its
 * CA, the responders (or the webroot) its configuration names, then what the outcome asks for:
 * the `--out` copies and the deploy hook. Pre- and post-hooks run once per command run.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChallengeSolver, ExternalAccountBinding } from "../acme/index.ts";
import { ExecDnsSolver, Rfc2136Solver, WebrootSolver } from "../challenges/index.ts";
import { parseTsigKey } from "../dns/index.ts";
import { withFlag } from "./errors.ts";
import type { KeyType } from "../jose/index.ts";
import { ensureLineage, Issuer, type LineageOutcome } from "../lifecycle/index.ts";
import { startResponders } from "../servers/index.ts";
import { chainFiles, writeFilesAtomic, type CertificateStore, type LineageConfig, type StoredLineage } from "../store/index.ts";
import type { CommandContext } from "./command.ts";
import { deployHookEnv, describeHookFailure, runHook, type HookOptions } from "./hooks.ts";
import type { LineageEvent, Reporter } from "./report.ts";
import { resolveTrustRoots, type TrustRoots } from "./trust.ts";

/** What an issuance for a lineage needs beyond its configuration. */
export interface LineageRun {
  readonly store: CertificateStore;
  readonly context: CommandContext;
  /** Progress lines. */
  readonly log: (line: string) => void;
  readonly dryRun: boolean;
  /** Order even when the stored certificate is usable. */
  readonly force: boolean;
  readonly lockWaitSeconds: number;
  /** The run's pre-, post- and deploy hooks. */
  readonly hooks: HookSession;
  /**
   * The issuers (transport and account) of this run, by CA: renewing many lineages of one CA
   * fetches its directory and finds the account once, not once per lineage.
   */
  readonly issuers: Map<string, Issuer>;
  /** How to register the account when the store has none yet. */
  readonly account?: { readonly keyType?: KeyType; readonly contact?: readonly string[]; readonly eab?: ExternalAccountBinding };
}

/** A pre-hook that failed: no order is placed. */
class PreHookFailure extends Error {}

/** The run's issuer for the lineage's CA, made on first use. */
function issuerFor(config: LineageConfig, run: LineageRun): Issuer {
  const roots = rootsFor(config, run.context);
  const key = `${config.directoryUrl}\n${roots?.path ?? ""}`;
  const known = run.issuers.get(key);
  if (known) return known;
  const { account } = run;
  const issuer = new Issuer({
    directoryUrl: config.directoryUrl,
    transport: run.context.transport(config.directoryUrl, roots),
    accountStorage: run.store.accountStorage(),
    ...(account?.keyType ? { accountKeyType: account.keyType } : {}),
    ...(account?.contact ? { contact: account.contact } : {}),
    ...(account?.eab ? { eab: account.eab } : {}),
  });
  run.issuers.set(key, issuer);
  return issuer;
}

/** The roots that verify this lineage's CA: `--ca`/`$BUN_ACME_CA` when given, else the ones saved with it. */
function rootsFor(config: LineageConfig, context: CommandContext): TrustRoots | undefined {
  if (context.trust) return context.trust;
  return config.caFile ? resolveTrustRoots(config.caFile, {}) : undefined;
}

/** The solver the configuration names, and how to stop what it started. */
async function startSolver(config: LineageConfig, log: (line: string) => void): Promise<{ solver: ChallengeSolver; stop: () => Promise<void> }> {
  const none = async () => {};
  if (config.webroot !== undefined) return { solver: new WebrootSolver(config.webroot), stop: none };
  if (config.dnsHook !== undefined) return { solver: new ExecDnsSolver(config.dnsHook), stop: none };
  if (config.dnsUpdate !== undefined) {
    const { server, port, tsigKeyFile, tsig, propagationTimeoutSeconds } = config.dnsUpdate;
    const keyText = tsigKeyFile !== undefined ? readFileSync(tsigKeyFile, "utf8") : tsig;
    const key = keyText !== undefined ? withFlag(tsigKeyFile !== undefined ? `--tsig-key ${tsigKeyFile}` : "--tsig", () => parseTsigKey(keyText)) : undefined;
    return { solver: new Rfc2136Solver({ server, port, ...(key ? { tsig: key } : {}), propagationTimeoutMs: propagationTimeoutSeconds * 1000, log }), stop: none };
  }
  const responders = await startResponders({
    challenge: config.challenge,
    bind: config.bind,
    ports: config.ports,
    ...(config.record !== undefined ? { dnsAddress: config.record } : {}),
  });
  return { solver: responders.solver, stop: () => responders.stop() };
}

/**
 * Makes sure the store holds a usable certificate for the lineage (the lifecycle engine: lock,
 * read again, order, save under the lock), running its pre-hook and solver only when an order is
 * placed; then, for a certificate saved, writes the `--out` copies and runs the deploy hook (whose
 * failure is reported; the certificate stays saved).
 *
 * @throws {LockHeldError} when another run held the lineage's lock past `--lock-wait`
 * @throws whatever the issuance throws: the store is then untouched
 */
export async function runLineage(config: LineageConfig, run: LineageRun): Promise<LineageEvent> {
  const { store, context } = run;
  const names = config.identifiers.map((identifier) => identifier.value);
  let outcome: LineageOutcome;
  try {
    outcome = await ensureLineage(store, config, issuerFor(config, run), {
      force: run.force,
      dryRun: run.dryRun,
      lockWait: run.lockWaitSeconds * 1000,
      signal: context.deadline,
      aroundOrder: async (order) => {
        const preFailure = await run.hooks.before(config);
        if (preFailure) throw new PreHookFailure(preFailure);
        const { solver, stop } = await startSolver(config, run.log);
        try {
          return await order({ solver, cleanupSignal: context.cleanupDeadline, log: run.log });
        } finally {
          await stop();
        }
      },
    });
  } catch (error) {
    if (error instanceof PreHookFailure) return { event: "failed", lineage: config.name, names, error: error.message };
    throw error;
  }
  if (outcome.kind === "locked-elsewhere") throw outcome.held;
  const { lineage } = outcome;
  if (outcome.kind === "obtained" && outcome.damage) run.log(`${outcome.damage}: obtained again`);
  if (outcome.kind === "unchanged" || outcome.kind === "taken-up") return { event: "not_due", lineage: config.name, names, meta: lineage.meta };
  if (!outcome.saved) return { event: "dry_run", lineage: config.name, names, meta: lineage.meta };
  const folder = store.locate(config.name);
  if (config.out !== undefined) writeCopies(config.out, lineage);
  let hookError: string | undefined;
  if (config.hooks.deploy) {
    const result = await withLineageFolder(folder ?? config.out, lineage, (where) =>
      runHook(config.hooks.deploy!, deployHookEnv(where, names), { signal: context.cleanupDeadline, ...run.hooks.options }));
    if (result.exitCode !== 0) hookError = describeHookFailure("deploy", result);
  }
  return { event: outcome.kind, lineage: config.name, names, meta: lineage.meta, folder, ...(hookError ? { hookError } : {}) };
}

/**
 * The hooks' limits for a command: `--hook-timeout`, the end of `--timeout`, and with `--verbose`
 * their output as progress lines.
 */
export function hookRunOptions(options: { hookTimeoutSeconds: number; verbose: boolean }, reporter: Reporter, context: CommandContext): HookOptions {
  return {
    timeoutMs: options.hookTimeoutSeconds * 1000,
    signal: context.cleanupDeadline,
    ...(options.verbose ? { onOutput: (line: string) => reporter.progress(`hook: ${line}`) } : {}),
  };
}

/**
 * Runs `work` with a folder holding the lineage's files for `RENEWED_LINEAGE`: the store's or
 * `--out` folder when there is one, else (a shared store) a private copy (0700) removed afterwards.
 */
export async function withLineageFolder<T>(folder: string | undefined, lineage: StoredLineage, work: (folder: string) => Promise<T>): Promise<T> {
  if (folder !== undefined) return work(folder);
  const copy = mkdtempSync(join(tmpdir(), "bun-acme-lineage-")); // mkdtemp makes it 0700
  try {
    writeCopies(copy, lineage);
    return await work(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/** certbot's `live/` file names, written together: cert.pem, chain.pem, fullchain.pem, privkey.pem (0600). */
function writeCopies(out: string, lineage: StoredLineage): void {
  writeFilesAtomic([...chainFiles(out, lineage.chainPem), { path: join(out, "privkey.pem"), data: lineage.keyPem, mode: 0o600 }]);
}

/**
 * Runs each distinct pre-hook once, before the first issuance that names it, and the matching
 * post-hooks once at the end (when their pre-hook ran, or when there was none), as certbot does.
 */
export class HookSession {
  private readonly started = new Set<string>();
  private readonly posts = new Set<string>();
  /** The hooks' limits, for the deploy hook too. */
  readonly options: HookOptions;

  /** @param options the hooks' time limit, signal and output (as for the deploy hook) */
  constructor(options: HookOptions = {}) {
    this.options = options;
  }

  /**
   * @returns a one-line failure, or `undefined` when the pre-hook ran fine (or there is none)
   */
  async before(config: LineageConfig): Promise<string | undefined> {
    if (config.hooks.post) this.posts.add(config.hooks.post);
    const pre = config.hooks.pre;
    if (!pre || this.started.has(pre)) return undefined;
    this.started.add(pre);
    const result = await runHook(pre, {}, this.options);
    return result.exitCode === 0 ? undefined : describeHookFailure("pre", result);
  }

  /** Runs the post-hooks; returns one line per failure. */
  async after(): Promise<string[]> {
    const failures: string[] = [];
    for (const post of this.posts) {
      const result = await runHook(post, {}, this.options);
      if (result.exitCode !== 0) failures.push(describeHookFailure("post", result));
    }
    return failures;
  }
}
