/**
 * Reading files named on the command line, with one clear error naming the flag and the file.
 */
import { readFileSync } from "node:fs";
import { decodePemBlocks } from "../encoding/index.ts";
import { UsageError } from "./args.ts";

/**
 * The text of a file given with `flag`.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read
 */
export function readInputText(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(error as { code?: string }).code ?? "unreadable"}`);
  }
}

/**
 * The DER of the first certificate (the leaf) in a PEM file.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read or holds no certificate
 */
export function readLeafCertificate(path: string, flag: string): Uint8Array {
  const pem = readInputText(path, flag);
  let blocks: ReturnType<typeof decodePemBlocks> = [];
  try {
    blocks = decodePemBlocks(pem);
  } catch { /* reported below */ }
  const leaf = blocks.find((block) => block.label === "CERTIFICATE");
  if (!leaf) throw new UsageError(`${flag} ${path} holds no PEM certificate`);
  return leaf.der;
}
