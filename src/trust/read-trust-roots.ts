/**
 * Root certificates that verify a CA's TLS certificate, read from a PEM file: what `AcmeTransport`'s
 * `ca` option, `manage()`'s `ca` and a lineage's `caFile` take. Verification is never turned off;
 * a file that holds no certificate is refused here rather than at the first handshake.
 */
import { readFileSync } from "node:fs";
import { decodePemBlocks } from "../encoding/index.ts";
import { BunAcmeError } from "../errors/index.ts";

/** A file of trust roots that cannot be read or holds no certificate. */
export class TrustRootsError extends BunAcmeError {
  declare readonly code: "ERR_TRUST_ROOTS";
  /** The file named. */
  readonly path: string;

  constructor(path: string, message: string, options?: ErrorOptions) {
    super("ERR_TRUST_ROOTS", message, options);
    this.name = "TrustRootsError";
    this.path = path;
  }
}

/**
 * Reads `path` and returns its PEM text when it holds at least one `CERTIFICATE` block.
 *
 * @throws {TrustRootsError} when the file cannot be read (its error code named) or holds no PEM certificate
 */
export function readTrustRoots(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code ?? "unreadable";
    throw new TrustRootsError(path, `cannot read the CA root file ${path}: ${code}`, { cause: error });
  }
  if (countCertificates(pem) === 0) throw new TrustRootsError(path, `the CA root file ${path} holds no PEM certificate`);
  return pem;
}

function countCertificates(pem: string): number {
  try {
    return decodePemBlocks(pem).filter((block) => block.label === "CERTIFICATE").length;
  } catch {
    return 0;
  }
}
