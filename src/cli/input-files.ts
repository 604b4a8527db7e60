/**
 * Reading files named on the command line, with one clear error naming the flag and the file.
 */
import { readFileSync } from "node:fs";
import { importPrivateKeyPem, parseCsr, type ParsedCsr } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { UsageError, withFlag, withFlagAsync } from "./errors.ts";

/**
 * The bytes of a file given with `flag`.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read
 */
export function readInputBytes(path: string, flag: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UsageError(`cannot read ${flag} ${path}: ${(error as { code?: string }).code ?? "unreadable"}`);
  }
}

/**
 * The text of a file given with `flag`.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read
 */
export function readInputText(path: string, flag: string): string {
  return new TextDecoder().decode(readInputBytes(path, flag));
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

/**
 * A private key file (PKCS#8, SEC1 or PKCS#1 PEM) as a key pair.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read or holds no usable key
 */
export function readKeyFile(path: string, flag: string): Promise<CryptoKeyPair> {
  const pem = readInputText(path, flag);
  return withFlagAsync(`${flag} ${path}`, () => importPrivateKeyPem(pem));
}

/**
 * A CSR file (PEM or DER) and the names it asks for.
 *
 * @throws {UsageError} naming the flag and file when it cannot be read or is not a CSR
 */
export function readCsrFile(path: string, flag: string): ParsedCsr {
  const bytes = readInputBytes(path, flag);
  return withFlag(`${flag} ${path}`, () => parseCsr(bytes));
}
