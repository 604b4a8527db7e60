/**
 * The command-line interface, for programs that wrap it: `main(argv, io)` runs bun-acme as the
 * `bun-acme` executable does and returns its exit code; `describeError` and `exitCodeFor` turn an
 * error into the line and the exit code the command line would give. Everything else of the CLI
 * stays inside; the library is `"bun-acme"`.
 * @module
 */
export type { CommandIo } from "./command.ts";
export { describeError, ExitCode, exitCodeFor, UsageError } from "./errors.ts";
export { main } from "./main.ts";
