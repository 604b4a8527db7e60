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
  const candidates = [
    join(import.meta.dir, "..", "..", "project", GRADING_ROOT_FILE),
    join(dirname(process.execPath), "..", "project", GRADING_ROOT_FILE),
  ];
  const found = candidates.find((candidate) => !candidate.startsWith("/$bunfs") && existsSync(candidate));
  return found ? load(found, "project") : undefined;
}

function load(path: string, source: TrustRoots["source"]): TrustRoots {
  try {
    return { pem: readTrustRoots(path), path: resolve(path), source };
  } catch (error) {
    if (!(error instanceof TrustRootsError)) throw error;
    throw new UsageError(`${error.message} (given by ${source})`, { cause: error });
  }
}
