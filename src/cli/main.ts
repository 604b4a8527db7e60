/**
 * The program: pick the command from the table, parse its flags, run it inside the one wrapper
 * that owns trust roots, the deadline, signals, error printing and exit codes.
 */
import packageJson from "../../package.json" with { type: "json" };
import { AcmeError, AcmeTimeoutError, AcmeTransport } from "../acme/index.ts";
import { accountCommand, type AccountOptions } from "./account.ts";
import { certificatesCommand, type CertificatesOptions } from "./certificates.ts";
import { rollbackCommand } from "./rollback.ts";
import { certonlyCommand, type CertonlyOptions } from "./certonly.ts";
import { renewCommand, type RenewOptions } from "./renew.ts";
import { serveCommand, type ServeOptions } from "./serve.ts";
import type { BaseOptions, Command, CommandContext, CommandIo } from "./command.ts";
import { describeError, ExitCode, exitCodeFor } from "./errors.ts";
import { describeFlags, Flags } from "./flags.ts";
import { issueCommand, type CliOptions } from "./issue.ts";
import { renewalInfoCommand, type RenewalInfoOptions } from "./renewal-info.ts";
import { revokeCommand, type RevokeOptions } from "./revoke.ts";
import { DRAIN_LIMIT_MS, standardIo } from "./std-io.ts";
import { resolveTrustRoots } from "./trust.ts";

/** The commands by the word that selects them; anything else is the issue command's challenge type. */
const COMMANDS: Readonly<Record<string, Command<never>>> = {
  certonly: certonlyCommand as Command<never>,
  renew: renewCommand as Command<never>,
  certificates: certificatesCommand as Command<never>,
  serve: serveCommand as Command<never>,
  revoke: revokeCommand as Command<never>,
  account: accountCommand as Command<never>,
  "renewal-info": renewalInfoCommand as Command<never>,
  rollback: rollbackCommand as Command<never>,
};

/** The part of `--timeout` (at most a fifth of it) kept for deactivating authorizations after the work stopped. */
const CLEANUP_RESERVE_MS = 5_000;

/** Exit codes for the signals that stop a run: 128 + signal number. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** What the command line asks for. */
export type ParsedCommand =
  | { readonly kind: "help"; readonly text: string }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: CliOptions }
  | { readonly kind: "revoke"; readonly options: RevokeOptions }
  | { readonly kind: "renewal-info"; readonly options: RenewalInfoOptions }
  | { readonly kind: "account"; readonly options: AccountOptions }
  | { readonly kind: "certonly"; readonly options: CertonlyOptions }
  | { readonly kind: "renew"; readonly options: RenewOptions }
  | { readonly kind: "certificates"; readonly options: CertificatesOptions }
  | { readonly kind: "serve"; readonly options: ServeOptions };

/** The usage text of one command, or of the whole program. */
export function usage(command?: Command<never>): string {
  const summary = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
  if (command) return `Usage: bun-acme ${command.synopsis}\n\n${summary(command.summary)}\n\nOptions:\n${describeFlags([...command.flags, "--help"], command.helpFor)}`;
  const issue = issueCommand as Command<never>;
  const others = Object.values(COMMANDS).map((other) => `  bun-acme ${other.synopsis}\n      ${other.summary}`).join("\n");
  return `Usage: bun-acme ${issue.synopsis}

${summary(issue.summary)}

Options:
${describeFlags([...issue.flags, "--help", "--version"])}

Other commands (each with --help):
${others}

Exit codes: 0 success, 1 the CA or the network failed, 2 a usage error, 3 GET /shutdown before the certificate was obtained, 130/143 stopped by SIGINT/SIGTERM.`;
}

function select(argv: readonly string[]): { command: Command<never>; rest: readonly string[]; kind: ParsedCommand["kind"] } {
  const index = argv.findIndex((arg) => !arg.startsWith("-"));
  const word = argv[index];
  const command = word !== undefined && Object.hasOwn(COMMANDS, word) ? COMMANDS[word]! : undefined;
  if (!command) return { command: issueCommand as Command<never>, rest: argv, kind: "run" };
  return { command, rest: argv.toSpliced(index, 1), kind: word as ParsedCommand["kind"] };
}

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} for a missing, unknown or malformed argument
 */
export function parseArgs(argv: readonly string[]): ParsedCommand {
  const { command, rest, kind } = select(argv);
  if (argv.includes("--help") || argv.includes("-h")) return { kind: "help", text: kind === "run" ? usage() : usage(command) };
  if (argv.includes("--version")) return { kind: "version" };
  return { kind, options: command.parse(new Flags(rest, command.flags)) } as ParsedCommand;
}

/**
 * Runs bun-acme with the given arguments and returns the exit code. SIGINT and SIGTERM stop
 * every server and return 130 or 143.
 */
export async function main(argv: readonly string[], io: CommandIo = standardIo()): Promise<number> {
  let signalled = false;
  try {
    return await run(argv, io, () => (signalled = true));
  } finally {
    // The last lines reach a pipe's reader before the process exits; after SIGTERM or SIGINT, within DRAIN_LIMIT_MS.
    await io.drain?.(signalled ? DRAIN_LIMIT_MS : undefined);
  }
}

async function run(argv: readonly string[], io: CommandIo, onSignal: () => void): Promise<number> {
  const report = (error: unknown) => {
    io.err(`bun-acme: error: ${describeError(error, io.env)}`);
    return exitCodeFor(error);
  };
  let parsed: ParsedCommand;
  try {
    parsed = parseArgs(argv);
  } catch (error) {
    return report(error);
  }
  if (parsed.kind === "help") return (io.out(parsed.text), ExitCode.OK);
  if (parsed.kind === "version") return (io.out(`bun-acme ${packageJson.version}`), ExitCode.OK);
  const command = (parsed.kind === "run" ? issueCommand : COMMANDS[parsed.kind]!) as unknown as Command<BaseOptions>;
  const options = parsed.options;

  const cancel = new AbortController();
  let signalCode: number | undefined;
  const removeHandlers = Object.entries(SIGNAL_EXIT_CODES).map(([name, code]) => {
    const handler = () => {
      signalCode ??= code;
      onSignal();
      cancel.abort(new AcmeError("ERR_CANCELLED", `Stopped by ${name}`));
    };
    process.on(name, handler);
    return () => process.off(name, handler);
  });
  // The work stops a little before --timeout, so that deactivating what it left pending fits too.
  const deadline = new AbortController();
  const cleanupDeadline = new AbortController();
  const timeoutMs = options.timeoutSeconds * 1000;
  const expire = (controller: AbortController) => () => controller.abort(new AcmeTimeoutError(command.timeoutWhat, options.timeoutSeconds));
  const timers = [
    setTimeout(expire(deadline), timeoutMs - Math.min(CLEANUP_RESERVE_MS, timeoutMs / 5)),
    setTimeout(expire(cleanupDeadline), timeoutMs),
  ];
  const endDeadline = () => timers.forEach((timer) => clearTimeout(timer));
  const deadlineSignal = AbortSignal.any([cancel.signal, deadline.signal]);
  try {
    // The roots are resolved before anything starts, so that a bad --ca is reported first.
    const trust = resolveTrustRoots(options.caFile, io.env);
    const context: CommandContext = {
      io,
      signal: cancel.signal,
      deadline: deadlineSignal,
      cleanupDeadline: cleanupDeadline.signal,
      endDeadline,
      trust,
      transport: (directoryUrl, roots = trust) => new AcmeTransport({ directoryUrl, signal: deadlineSignal, ...(roots ? { ca: roots.pem } : {}) }),
    };
    const code = await command.run(options, context);
    return command.ownsSignals ? code : signalCode ?? code;
  } catch (error) {
    const code = report(error);
    return signalCode ?? code;
  } finally {
    endDeadline();
    for (const remove of removeHandlers) remove();
  }
}
