/**
 * One lineage through the lifecycle engine, shared by `certonly` and `renew`: the issuer of its
 * CA, the responders (or the webroot) its configuration names, then what the outcome asks for:
 * the `--out` copies and the deploy hook. Pre- and post-hooks run once per command run.
 */
import { readFileSync } from "node:fs";
import type { ChallengeSolver, ExternalAccountBinding } from "../acme/index.ts";
import { ExecDnsSolver, Rfc2136Solver, WebrootSolver } from "../challenges/index.ts";
import { parseTsigKey } from "../dns/index.ts";
import { withFlag } from "./errors.ts";
import type { KeyType } from "../jose/index.ts";
import { ensureLineage, failureEvent, Issuer, outcomeEvent, type LineageOutcome, type UntimedEvent } from "../lifecycle/index.ts";
import { startResponders } from "../servers/index.ts";
import { StoreError, type CertificateStore, type LineageConfig } from "../store/index.ts";
import type { CommandContext } from "./command.ts";
import { deployHookEnv, runHook, withLineageFolder, writeLineageFiles, type HookOptions } from "../hooks/index.ts";
import { describeHookFailure } from "./hooks.ts";
import type { Reporter } from "./report.ts";
import { readTrustRoots, TrustRootsError } from "../trust/index.ts";
import type { TrustRoots } from "./trust.ts";

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

/**
 * The roots that verify this lineage's CA: `--ca`/`$BUN_ACME_CA` when given, else the ones saved
 * with it (a file that is gone or holds no certificate is named as the lineage's `caFile`, not `--ca`).
 */
function rootsFor(config: LineageConfig, context: CommandContext): TrustRoots | undefined {
  if (context.trust) return context.trust;
  if (!config.caFile) return undefined;
  try {
    return { pem: readTrustRoots(config.caFile), path: config.caFile, source: "lineage" };
  } catch (error) {
    if (!(error instanceof TrustRootsError)) throw error;
    throw new TrustRootsError(error.path, `${config.name}: its lineage.json's caFile: ${error.message}; give the CA's roots with --ca, or restore the file`, { cause: error });
  }
}

/** The solver the configuration names, and how to stop what it started. */
async function startSolver(config: LineageConfig, log: (line: string) => void): Promise<{ solver: ChallengeSolver; stop: () => Promise<void> }> {
  const none = async () => {};
  const spec = config.solver;
  switch (spec.via) {
    case "webroot":
      return { solver: new WebrootSolver(spec.path), stop: none };
    case "hook":
      return { solver: new ExecDnsSolver(spec.command), stop: none };
    case "rfc2136": {
      const { server, port, tsigKeyFile, tsig, propagationTimeoutSeconds } = spec;
      const keyText = tsigKeyFile !== undefined ? readFileSync(tsigKeyFile, "utf8") : tsig;
      const key = keyText !== undefined ? withFlag(tsigKeyFile !== undefined ? `--tsig-key ${tsigKeyFile}` : "--tsig", () => parseTsigKey(keyText)) : undefined;
      return { solver: new Rfc2136Solver({ server, port, ...(key ? { tsig: key } : {}), propagationTimeoutMs: propagationTimeoutSeconds * 1000, log }), stop: none };
    }
    case "external":
      throw new StoreError(`lineage ${config.name} is proven by a program's own ${spec.type} solver (manage()'s): renew it from that program, or obtain it again with certonly --force`, "ERR_STORE_EXTERNAL_SOLVER");
    case "responder": {
      const ports = spec.type === "http-01" ? { http: spec.port } : spec.type === "tls-alpn-01" ? { tls: spec.port } : { dns: spec.port };
      const responders = await startResponders({ challenge: spec.type, bind: spec.bind, ports, ...(spec.record !== undefined ? { dnsAddress: spec.record } : {}) });
      return { solver: responders.solver, stop: () => responders.stop() };
    }
  }
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
export async function runLineage(config: LineageConfig, run: LineageRun): Promise<UntimedEvent> {
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
    if (error instanceof PreHookFailure) return failureEvent(config, error);
    throw error;
  }
  if (outcome.kind === "locked-elsewhere") throw outcome.held;
  const { lineage } = outcome;
  if (outcome.kind === "obtained" && outcome.damage) run.log(`${outcome.damage}: obtained again`);
  const event = outcomeEvent(outcome, config);
  if (event.type !== "obtained" && event.type !== "renewed") return event; // nothing saved: no copies, no deploy hook
  const folder = store.locate(config.name);
  const out = config.cli?.out;
  const deploy = config.cli?.hooks?.deploy;
  if (out !== undefined) writeLineageFiles(out, lineage);
  let hookError: string | undefined;
  if (deploy) {
    const result = await withLineageFolder(folder ?? out, lineage, (where) =>
      runHook(deploy, deployHookEnv(where, names), { signal: context.cleanupDeadline, ...run.hooks.options }));
    if (result.exitCode !== 0) hookError = describeHookFailure("deploy", result);
  }
  return { ...event, ...(folder !== undefined ? { folder } : {}), ...(hookError ? { hookError } : {}) };
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
    const hooks = config.cli?.hooks ?? {};
    if (hooks.post) this.posts.add(hooks.post);
    const pre = hooks.pre;
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
