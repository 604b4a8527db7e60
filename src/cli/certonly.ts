/**
 * `certonly`: obtain a certificate into the store and exit, as certbot's and lego's commands of
 * the same purpose do. Only what the challenge needs is started, on the ports a CA validates on.
 * The lineage remembers how it was obtained, so that `renew` needs no flags.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { ChallengeType } from "../acme/index.ts";
import { failureEvent, subjectOf } from "../lifecycle/index.ts";
import { KEY_TYPES, ACCOUNT_KEY_TYPES, type KeyType } from "../jose/index.ts";
import { parseTsigKey } from "../dns/index.ts";
import { checkLineageName, cliExtras, defaultLineageName, type LineageConfig, type SolverSpec } from "../store/index.ts";
import { openCommandStore, readStoreLocation, storeEncryptionKey, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { describeError, ExitCode, exitCodeFor, UsageError, withFlag } from "./errors.ts";
import { COMMON_FLAGS } from "./flags.ts";
import { DEFAULT_HOOK_TIMEOUT_SECONDS } from "../hooks/index.ts";
import { HookSession, hookRunOptions, runLineage } from "./lineage-run.ts";
import { checkUsableDir } from "./preflight.ts";
import { Reporter } from "./report.ts";
import { readContacts, readDirectory, readEab, readIdentifiers, readKeyType, readPort, readRecord, readSeconds, readTimeout, type EabFlags } from "./values.ts";

/** The ports CAs validate on, certonly's defaults. @see https://www.rfc-editor.org/rfc/rfc8555#section-8.3 */
const VALIDATION_PORTS = { http: 80, tls: 443, dns: 53 } as const;

const CHALLENGES: Readonly<Record<string, ChallengeType>> = {
  http01: "http-01", "http-01": "http-01", dns01: "dns-01", "dns-01": "dns-01", tls01: "tls-alpn-01", "tls-alpn01": "tls-alpn-01", "tls-alpn-01": "tls-alpn-01",
};

/** What --state and --store mean to the store commands. */
export const STORE_FLAGS_HELP = {
  "--state": "the store folder: the account (account-key.pem, 0600) and each lineage under certificates/NAME/ (folders 0700); refused when another user could have written it (default: /var/lib/bun-acme for root, else $XDG_STATE_HOME/bun-acme or ~/.local/state/bun-acme)",
  "--store": "the store: a folder (as --state), or a redis:// or postgres:// URL shared by a fleet; BUN_ACME_STORE_KEY (base64 of 32 bytes) seals the private keys and each lineage's configuration there, and renew runs hooks saved in a shared store only when sealed",
} as const;

/** Everything `certonly` needs. */
export interface CertonlyOptions extends BaseOptions {
  /** The lineage as it will be saved, but for `caFile`, which the trust roots in use decide. */
  readonly config: LineageConfig;
  readonly store: StoreLocation;
  readonly force: boolean;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly lockWaitSeconds: number;
  readonly hookTimeoutSeconds: number;
  readonly verbose: boolean;
  readonly account: { readonly keyType: KeyType; readonly contact: readonly string[]; readonly eab: EabFlags | null };
}

/** The `certonly` command: its flags, parser and run function. */
export const certonlyCommand: Command<CertonlyOptions> = {
  name: "certonly",
  synopsis: "certonly [http01|dns01|tls01] --dir URL --domain NAME [--domain NAME ...] [--webroot DIR] [--state DIR | --store URL] [--out DIR] [options]",
  summary: "obtain a certificate into the store (--state) and exit; it is then renewed by `bun-acme renew` with the same settings",
  flags: [
    ...COMMON_FLAGS, "--domain", "--ip", "--webroot", "--state", "--store", "--cert-name", "--out", "--key-type", "--account-key-type", "--contact",
    "--eab-kid", "--eab-hmac-key", "--bind", "--http-port", "--https-port", "--dns-port", "--record", "--pre-hook", "--post-hook",
    "--deploy-hook", "--force", "--dry-run", "--json", "--quiet", "--profile", "--preferred-chain", "--lock-wait",
    "--dns-update", "--tsig-key", "--tsig", "--dns-propagation-timeout", "--dns-hook", "--hook-timeout", "--verbose",
  ],
  helpFor: {
    ...STORE_FLAGS_HELP,
    "--out": "also copy the certificate to DIR (made 0700) after every issuance: cert.pem (the leaf), chain.pem, fullchain.pem, privkey.pem (0600); saved with the lineage",
    "--ca": "PEM root(s) to verify the CA's TLS certificate (else $BUN_ACME_CA, else project/pebble.minica.pem when present, else the system roots); the roots used are saved with the lineage, so that renew trusts the same CA",
    "--http-port": "the built-in http-01 server (default: 80)",
    "--https-port": "the built-in tls-alpn-01 responder, tls01 (default: 443)",
    "--dns-port": "the built-in DNS server of dns01, UDP and TCP (default: 53)",
    "--bind": "address the built-in challenge server listens on (default: 0.0.0.0)",
    "--record": "dns01's built-in DNS server: the IPv4 address it answers every A query with",
    "--force": "obtain a new certificate even when the stored one for the same names is not due",
    "--dry-run": "the whole exchange with the CA (staging advised), but nothing is saved and no deploy hook runs; pre and post hooks do run",
    "--pre-hook": "shell command run before obtaining, saved with the lineage (renew runs it once per run)",
    "--post-hook": "shell command run after obtaining, saved with the lineage (renew runs it once per run)",
    "--deploy-hook": "shell command run after each certificate obtained, saved with the lineage; it gets RENEWED_LINEAGE (a folder holding cert.pem, chain.pem, fullchain.pem, privkey.pem), RENEWED_DOMAINS, PATH, HOME and the locale, not the rest of the environment",
  },
  timeoutWhat: "the certificate (--timeout)",
  parse: parseCertonly,
  run: runCertonly,
};

function parseCertonly(flags: Parameters<Command["parse"]>[0]): CertonlyOptions {
  if (flags.positionals.length > 1) throw new UsageError(`unexpected argument "${flags.positionals[1]}"`);
  const word = flags.positionals[0] ?? "http01";
  const challenge = CHALLENGES[word];
  if (!challenge) throw new UsageError(`unknown challenge type "${word}": use http01, dns01 or tls01`);
  const solver = readSolver(flags, challenge);
  const eab = readEab(flags);
  const identifiers = readIdentifiers(flags, challenge);
  if (identifiers.length === 0) throw new UsageError("missing --domain NAME (repeat it for more names)");
  const name = withFlag("--cert-name", () => checkLineageName(flags.single("--cert-name") ?? defaultLineageName(identifiers)));
  const optional = <K extends string>(key: K, value: string | undefined) => (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
  const hooks = {
    ...optional("pre", flags.single("--pre-hook")),
    ...optional("post", flags.single("--post-hook")),
    ...optional("deploy", flags.single("--deploy-hook")),
  };
  const out = flags.single("--out");
  const cli = cliExtras(hooks, out === undefined ? undefined : resolve(out));
  return {
    config: {
      version: 2,
      name,
      identifiers,
      directoryUrl: readDirectory(flags, eab),
      allowInsecureHttp: flags.has("--allow-insecure-http"),
      keyType: readKeyType(flags, "--key-type", KEY_TYPES),
      ...optional("profile", flags.single("--profile")),
      ...optional("preferredChain", flags.single("--preferred-chain")),
      solver,
      ...(cli ? { cli } : {}),
    },
    store: readStoreLocation(flags),
    force: flags.has("--force"),
    dryRun: flags.has("--dry-run"),
    json: flags.has("--json"),
    quiet: flags.has("--quiet"),
    lockWaitSeconds: readSeconds(flags, "--lock-wait", 30),
    hookTimeoutSeconds: readSeconds(flags, "--hook-timeout", DEFAULT_HOOK_TIMEOUT_SECONDS),
    verbose: flags.has("--verbose"),
    account: { keyType: readKeyType(flags, "--account-key-type", ACCOUNT_KEY_TYPES), contact: readContacts(flags), eab },
    caFile: flags.single("--ca"),
    timeoutSeconds: readTimeout(flags),
  };
}

async function runCertonly(options: CertonlyOptions, context: CommandContext): Promise<number> {
  const reporter = new Reporter(context.io, options.json);
  // The roots in use are saved with the lineage (as an absolute path), so that renew trusts the same CA.
  const config: LineageConfig = { ...options.config, ...(context.trust ? { caFile: resolve(context.trust.path) } : {}) };
  // Everything the user can get wrong is found before the CA is asked for anything.
  if (!options.store.shared) checkUsableDir(options.store.location, "--state", ["account-key.pem", "account.json"]);
  if (config.cli?.out !== undefined) checkUsableDir(config.cli.out, "--out", ["privkey.pem", "fullchain.pem"]);
  if (config.solver.via === "webroot") checkUsableDir(config.solver.path, "--webroot", [], false);
  const store = openCommandStore(options.store, context.io.env);
  if (options.store.shared && storeEncryptionKey(context.io.env) === undefined && config.cli?.hooks !== undefined) {
    reporter.progress("Note: without BUN_ACME_STORE_KEY this shared store's records are not sealed, so renew will not run the hooks saved with this lineage: give them to renew (--pre-hook, --post-hook, --deploy-hook), or set the key");
  }
  const hooks = new HookSession(hookRunOptions(options, reporter, context));
  try {
    const event = await runLineage(config, {
      store,
      context,
      log: (line) => options.quiet || reporter.progress(line),
      dryRun: options.dryRun,
      // A dry run is the whole exchange with the CA, whatever is stored.
      force: options.force || options.dryRun,
      lockWaitSeconds: options.lockWaitSeconds,
      hooks,
      issuers: new Map(),
      account: { keyType: options.account.keyType, contact: options.account.contact, ...(options.account.eab ? { eab: options.account.eab } : {}) },
    });
    reporter.report(event);
    return event.type === "failed" || ("hookError" in event && event.hookError) ? ExitCode.FAILURE : ExitCode.OK;
  } catch (error) {
    reporter.report(failureEvent(config, error, { line: describeError(error, context.io.env) }));
    return exitCodeFor(error);
  } finally {
    for (const failure of await hooks.after()) reporter.report({ type: "failed", ...subjectOf(config), error: failure });
    await store.close?.();
  }
}

/**
 * How the names are proven: `--webroot`, `--dns-update` or `--dns-hook` when given, else the
 * built-in responder for the challenge on `--bind` and its port (`--http-port`, `--https-port`,
 * `--dns-port`, with dns01's `--record`).
 */
function readSolver(flags: Parameters<Command["parse"]>[0], challenge: ChallengeType): SolverSpec {
  const webroot = flags.single("--webroot");
  if (webroot !== undefined && challenge !== "http-01") throw new UsageError("--webroot answers http-01: drop it, or use http01");
  if (flags.has("--record") && challenge !== "dns-01") throw new UsageError("--record is for dns01's built-in DNS server: drop it, or use dns01");
  const dns = readDnsSolverFlags(flags, challenge);
  // Every port flag given is checked, whichever the challenge uses.
  const ports = {
    "http-01": readPort(flags, "--http-port", VALIDATION_PORTS.http),
    "tls-alpn-01": readPort(flags, "--https-port", VALIDATION_PORTS.tls),
    "dns-01": readPort(flags, "--dns-port", VALIDATION_PORTS.dns),
  };
  const bind = flags.single("--bind") ?? "0.0.0.0";
  if (dns) return dns;
  if (webroot !== undefined) return { type: "http-01", via: "webroot", path: resolve(webroot) };
  const record = flags.has("--record") ? readRecord(flags) : undefined;
  return { type: challenge, via: "responder", bind, port: ports[challenge], ...(record !== undefined ? { record } : {}) };
}

/** `--dns-update` (with `--tsig-key` or `--tsig`, `--dns-propagation-timeout`) or `--dns-hook`: dns01 without the built-in server. */
function readDnsSolverFlags(flags: Parameters<Command["parse"]>[0], challenge: ChallengeType): SolverSpec | undefined {
  const update = flags.single("--dns-update");
  const hook = flags.single("--dns-hook");
  const needsUpdate = ["--tsig-key", "--tsig", "--dns-propagation-timeout"] as const;
  for (const flag of needsUpdate) if (flags.has(flag) && update === undefined) throw new UsageError(`${flag} goes with --dns-update`);
  if ((update !== undefined || hook !== undefined) && challenge !== "dns-01") throw new UsageError("--dns-update and --dns-hook answer dns-01: use dns01");
  if (update !== undefined && hook !== undefined) throw new UsageError("choose one of --dns-update and --dns-hook");
  if (flags.has("--record") && (update !== undefined || hook !== undefined)) throw new UsageError("--record is for the built-in DNS server, which --dns-update and --dns-hook replace");
  if (hook !== undefined) return { type: "dns-01", via: "hook", command: hook };
  if (update === undefined) return undefined;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(update);
  const port = match?.[2] === undefined ? 53 : Number(match[2]);
  if (!match || port < 1 || port > 65535) throw new UsageError(`--dns-update "${update}" is not SERVER or SERVER:PORT`);
  const keyFile = flags.single("--tsig-key");
  const inline = flags.single("--tsig");
  if (keyFile !== undefined && inline !== undefined) throw new UsageError("choose one of --tsig-key and --tsig");
  if (keyFile !== undefined) withFlag(`--tsig-key ${keyFile}`, () => parseTsigKey(readKeyText(keyFile)));
  if (inline !== undefined) withFlag("--tsig", () => parseTsigKey(inline));
  return {
    type: "dns-01",
    via: "rfc2136",
    server: match[1]!.replace(/^\[|\]$/g, ""),
    port,
    ...(keyFile !== undefined ? { tsigKeyFile: resolve(keyFile) } : {}),
    ...(inline !== undefined ? { tsig: inline } : {}),
    propagationTimeoutSeconds: readSeconds(flags, "--dns-propagation-timeout", 120),
  };
}

function readKeyText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--tsig-key ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}
