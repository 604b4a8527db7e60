/**
 * The command-line interface: a thin shell that parses flags, calls the library and prints.
 * @module
 */
export type { CommandIo } from "./command.ts";
export { describeError, ExitCode, exitCodeFor, UsageError } from "./errors.ts";
export { DEFAULT_PORTS } from "./flags.ts";
export { main, parseArgs, usage, type ParsedCommand } from "./main.ts";
export type { CliOptions } from "./issue.ts";
export { GRADING_ROOT_FILE, resolveTrustRoots, type TrustRoots } from "./trust.ts";
