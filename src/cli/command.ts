/**
 * What every command is: its flags, a parser from flags to options, and a run function that gets
 * a {@link CommandContext} from the one wrapper in `main.ts`.
 */
import type { AcmeTransport } from "../acme/index.ts";
import type { FlagName, Flags } from "./flags.ts";
import type { TrustRoots } from "./trust.ts";

/** Where a command writes its lines. */
export interface CommandIo {
  readonly env: Record<string, string | undefined>;
  /** Progress and results. */
  out(line: string): void;
  /** Errors. */
  err(line: string): void;
  /** Resolves once every line written has reached its reader (or after `limitMs`); `main` awaits it before returning. */
  drain?(limitMs?: number): Promise<void>;
}

/** Options every command has. */
export interface BaseOptions {
  readonly caFile: string | undefined;
  /** Seconds allowed for the work with the CA. */
  readonly timeoutSeconds: number;
}

/** What the wrapper hands a command. */
export interface CommandContext {
  readonly io: CommandIo;
  /** Aborted by SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /**
   * Aborted by SIGINT/SIGTERM or when the work's share of `--timeout` passes (its reason is then an
   * `AcmeTimeoutError`): a few seconds before the end, kept for clean-up.
   */
  readonly deadline: AbortSignal;
  /** Aborted when `--timeout` itself passes: what clean-up after a failure or cancellation may use. */
  readonly cleanupDeadline: AbortSignal;
  /** Stops the `--timeout` clock, e.g. once the certificate is in hand and is only being served. */
  endDeadline(): void;
  /** The roots that verify the CA (`undefined`: the system's). */
  readonly trust: TrustRoots | undefined;
  /**
   * A transport to the CA, verified against `roots` (default {@link trust}; `undefined` for both:
   * the system's roots), ended by {@link deadline}.
   */
  transport(directoryUrl: string, roots?: TrustRoots): AcmeTransport;
}

/** One command of the table. */
export interface Command<Options extends BaseOptions = BaseOptions> {
  readonly name: string;
  /** One synopsis line, without the program name. */
  readonly synopsis: string;
  readonly summary: string;
  readonly flags: readonly FlagName[];
  /** The command's own help for flags it uses differently from the others. */
  readonly helpFor?: Partial<Record<FlagName, string>>;
  /** What `--timeout` bounds, for its message: "the certificate". */
  readonly timeoutWhat: string;
  /** SIGINT/SIGTERM are the command's own business (a daemon's clean stop): its exit code stands. */
  readonly ownsSignals?: boolean;
  /** @throws {UsageError} for a missing, unknown or malformed argument */
  parse(flags: Flags): Options;
  run(options: Options, context: CommandContext): Promise<number>;
}
