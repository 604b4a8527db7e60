/**
 * The program: parse arguments, run the command, map the outcome to an exit code.
 */
import packageJson from "../../package.json" with { type: "json" };
import { AcmeError } from "../acme/index.ts";
import { parseArgs, USAGE } from "./args.ts";
import { runAccountCommand } from "./account.ts";
import { runRenewalInfoCommand } from "./renewal-info.ts";
import { runRevokeCommand } from "./revoke.ts";
import { describeError, exitCodeFor, ExitCode, runIssueCommand, type CommandIo } from "./run.ts";

/** Exit codes for the signals that stop a run: 128 + signal number. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Runs bun-acme with the given arguments and returns the exit code. SIGINT and SIGTERM stop
 * every server and return 130 or 143.
 */
export async function main(argv: readonly string[], io: CommandIo = defaultIo()): Promise<number> {
  let command;
  try {
    command = parseArgs(argv);
  } catch (error) {
    io.err(`bun-acme: error: ${describeError(error, io.env)}`);
    return exitCodeFor(error);
  }
  if (command.kind === "help") {
    io.out(USAGE);
    return ExitCode.OK;
  }
  if (command.kind === "version") {
    io.out(`bun-acme ${packageJson.version}`);
    return ExitCode.OK;
  }
  const controller = new AbortController();
  let signalCode: number | undefined;
  const handlers = Object.entries(SIGNAL_EXIT_CODES).map(([name, code]) => {
    const handler = () => {
      signalCode ??= code;
      controller.abort(new AcmeError("ERR_CANCELLED", `Stopped by ${name}`));
    };
    process.on(name, handler);
    return () => process.off(name, handler);
  });
  try {
    const report = (error: unknown) => {
      io.err(`bun-acme: error: ${describeError(error, io.env)}`);
      return exitCodeFor(error);
    };
    const code = command.kind === "revoke"
      ? await runRevokeCommand(command.options, io, controller.signal).catch(report)
      : command.kind === "renewal-info"
      ? await runRenewalInfoCommand(command.options, io, controller.signal).catch(report)
      : command.kind === "account"
      ? await runAccountCommand(command.options, io, controller.signal).catch(report)
      : await runIssueCommand(command.options, io, controller.signal);
    return signalCode ?? code;
  } finally {
    for (const remove of handlers) remove();
  }
}

function defaultIo(): CommandIo {
  return {
    env: process.env,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}
