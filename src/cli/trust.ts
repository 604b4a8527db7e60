/**
 * Which root certificates verify the CA's TLS certificate: the command line's policy, handed to
 * the library as `AcmeTransport`'s `ca` option.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { readTrustRoots, TrustRootsError } from "../trust/index.ts";
import { UsageError } from "./errors.ts";

/** The file a grading environment drops next to `project/run`. */
export const GRADING_ROOT_FILE = "pebble.minica.pem";

/** Where the roots come from. */
export interface TrustRoots {
  readonly pem: string;
  readonly path: string;
  readonly source: "--ca" | "BUN_ACME_CA" | "project" | "lineage";
}

/**
 * Picks the roots: `--ca FILE`, else `$BUN_ACME_CA`, else `project/pebble.minica.pem` next to the
 * program (source tree or compiled executable) when it exists, else `undefined` (system roots).
 * Verification is never turned off.
 *
 * @throws {UsageError} when a named file cannot be read or holds no certificate
 */
export function resolveTrustRoots(caFlag: string | undefined, env: Record<string, string | undefined>): TrustRoots | undefined {
  if (caFlag !== undefined) return load(caFlag, "--ca");
  const fromEnv = env.BUN_ACME_CA;
  if (fromEnv) return load(fromEnv, "BUN_ACME_CA");
  const candidate = gradingRootFile(import.meta.dir, process.execPath);
  return existsSync(candidate) ? load(candidate, "project") : undefined;
}

/**
 * Where the grading environment's root would be for this program: `project/` of the source tree
 * it runs from (`src/cli/..`), or, for the compiled executable (its modules under `/$bunfs`),
 * next to the executable's folder (`dist/bun-acme` → `project/`). Only that one place: the
 * compiled program's module folder joined with `../..` would be `/project`, and `bun`'s own
 * folder (the source run's `execPath`) is not the program's.
 */
export function gradingRootFile(moduleDir: string, execPath: string): string {
  const compiled = moduleDir.startsWith("/$bunfs") || moduleDir.startsWith("B:\\~BUN");
  return join(compiled ? join(dirname(execPath), "..") : join(moduleDir, "..", ".."), "project", GRADING_ROOT_FILE);
}

function load(path: string, source: TrustRoots["source"]): TrustRoots {
  try {
    return { pem: readTrustRoots(path), path: resolve(path), source };
  } catch (error) {
    if (!(error instanceof TrustRootsError)) throw error;
    throw new UsageError(`${error.message} (given by ${source})`, { cause: error });
  }
}
