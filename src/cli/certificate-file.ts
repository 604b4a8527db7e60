/**
 * Reading a certificate PEM file named on the command line.
 */
import { readFileSync } from "node:fs";
import { decodePemBlocks } from "../encoding/index.ts";
import { UsageError } from "./args.ts";

/**
 * The DER of the first certificate (the leaf) in a PEM file.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read or holds no certificate
 */
export function readLeafCertificate(path: string, flag: string): Uint8Array {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(error as { code?: string }).code ?? "unreadable"}`);
  }
  let blocks: ReturnType<typeof decodePemBlocks> = [];
  try {
    blocks = decodePemBlocks(pem);
  } catch { /* reported below */ }
  const leaf = blocks.find((block) => block.label === "CERTIFICATE");
  if (!leaf) throw new UsageError(`${flag} ${path} holds no PEM certificate`);
  return leaf.der;
}
