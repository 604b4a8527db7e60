/**
 * How the command line reports failures: one line, a stable exit code, never a stack trace for a
 * user's mistake.
 */
import { AcmeError, AcmeProblemError, AcmeProfileError } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import { ServerStartError } from "../servers/index.ts";
import { maskSecrets, StoreError } from "../store/index.ts";

/** A mistake on the command line: exit code 2, one line, no stack trace. */
export class UsageError extends BunAcmeError {
  declare readonly code: "ERR_USAGE";
  constructor(message: string, options?: ErrorOptions) {
    super("ERR_USAGE", message, options);
    this.name = "UsageError";
  }
}

/** Exit codes. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2, CANCELLED: 3 } as const;

/**
 * `GET /shutdown` arrived before the certificate was obtained: the run was cancelled (pending
 * authorizations deactivated), which is not the success exit 0 means.
 */
export class ShutdownBeforeCertificate extends BunAcmeError {
  declare readonly code: "ERR_SHUTDOWN_BEFORE_CERTIFICATE";
  constructor() {
    super("ERR_SHUTDOWN_BEFORE_CERTIFICATE", "GET /shutdown arrived before the certificate was obtained: cancelled, pending authorizations deactivated");
    this.name = "ShutdownBeforeCertificate";
  }
}

/**
 * Runs `read` and turns the built-in errors a library function throws for bad input (`TypeError`,
 * `RangeError`, `SyntaxError`) into a {@link UsageError} naming the flag.
 */
export function withFlag<T>(flag: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    throw asUsageError(flag, error);
  }
}

/** {@link withFlag} for asynchronous work. */
export async function withFlagAsync<T>(flag: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw asUsageError(flag, error);
  }
}

function asUsageError(flag: string, error: unknown): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError)) return error;
  const message = error.message.charAt(0).toLowerCase() + error.message.slice(1);
  return new UsageError(`${flag}: ${message}`, { cause: error });
}

/** The exit code for an error: 2 for mistakes the user can fix on the command line, else 1. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ShutdownBeforeCertificate) return ExitCode.CANCELLED;
  if (error instanceof BunAcmeError && error.code === "ERR_CONFIG") return ExitCode.USAGE;
  return error instanceof UsageError || error instanceof ServerStartError || error instanceof AcmeProfileError ? ExitCode.USAGE : ExitCode.FAILURE;
}

/** Errors of the library whose message is already the one line a user needs. */
const KNOWN_CODES = new Set(["ERR_CONFIG", "ERR_DNS_UPDATE", "ERR_DNS_CLIENT", "ERR_DNS_HOOK", "ERR_TRUST_ROOTS"]);

/** What the file system's error codes mean, for the ones a user meets. */
const FILE_ERRORS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on the device; files already there are untouched",
  EDQUOT: "disk quota exceeded; files already there are untouched",
  EROFS: "read-only file system",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "a folder is in the way",
};

/**
 * One line for an error, passwords and TSIG secrets masked. Stack traces only for unexpected
 * errors, and only with `BUN_ACME_DEBUG`.
 */
export function describeError(error: unknown, env: Record<string, string | undefined>): string {
  return maskSecrets(describeUnmasked(error, env));
}

function describeUnmasked(error: unknown, env: Record<string, string | undefined>): string {
  if (error instanceof UsageError) return `${error.message} (see --help)`;
  if (error instanceof ServerStartError) {
    return `${error.message}; stop whatever holds it or pick another port with the --*-port options`;
  }
  if (error instanceof AcmeProblemError && error.is("externalAccountRequired")) {
    return `${error.message}; this CA needs External Account Binding: give the credentials it issued with --eab-kid and --eab-hmac-key`;
  }
  if (error instanceof AcmeError || error instanceof ShutdownBeforeCertificate || error instanceof StoreError) return error.message;
  if (error instanceof BunAcmeError && KNOWN_CODES.has(error.code)) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  const path = (error as { path?: unknown } | null)?.path;
  if (typeof code === "string" && typeof path === "string") return `cannot use ${path}: ${code}${FILE_ERRORS[code] ? ` (${FILE_ERRORS[code]})` : ""}`;
  const message = error instanceof Error ? error.message : String(error);
  if (env.BUN_ACME_DEBUG && error instanceof Error && error.stack) return `unexpected error: ${error.stack}`;
  return `unexpected error: ${message.split("\n")[0]} (set BUN_ACME_DEBUG=1 for details)`;
}
