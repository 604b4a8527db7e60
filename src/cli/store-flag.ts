/**
 * Which store a command works on: `--state DIR` (a folder, as the ETH command's account state),
 * or `--store` with a folder or a `redis://` / `postgres://` URL shared by a fleet. Keys in a
 * shared store are encrypted with `BUN_ACME_STORE_KEY` when it is set.
 */
import { resolve } from "node:path";
import { decodeBase64 } from "../encoding/index.ts";
import { defaultStoreDir, isSharedStoreLocation, maskSecrets, openStore, type CertificateStore } from "../store/index.ts";
import type { Command } from "./command.ts";
import { UsageError } from "./errors.ts";

/** A store location as given: a folder (made absolute) or a shared store's URL. */
export interface StoreLocation {
  readonly location: string;
  readonly shared: boolean;
}

/** `--store` or `--state` (not both), else the default folder. */
export function readStoreLocation(flags: Parameters<Command["parse"]>[0]): StoreLocation {
  const store = flags.single("--store");
  const state = flags.single("--state");
  if (store !== undefined && state !== undefined) throw new UsageError("choose one of --state and --store");
  const given = store ?? state;
  if (given !== undefined && isSharedStoreLocation(given)) {
    if (state !== undefined) throw new UsageError(`--state takes a folder; a shared store's URL goes to --store`);
    try {
      new URL(given);
    } catch {
      throw new UsageError(`--store "${maskSecrets(given)}" is not a URL: check it (a password with @, /, ? or # in it must be percent-encoded)`);
    }
    return { location: given, shared: true };
  }
  return { location: resolve(given ?? defaultStoreDir()), shared: false };
}

/**
 * The key that encrypts private keys in a shared store, from `BUN_ACME_STORE_KEY` (base64 of 32
 * bytes, e.g. from `openssl rand -base64 32`).
 *
 * @throws {UsageError} when it is set but not 32 bytes of base64
 */
export function storeEncryptionKey(env: Record<string, string | undefined>): Uint8Array | undefined {
  const text = env.BUN_ACME_STORE_KEY;
  if (text === undefined || text === "") return undefined;
  let key: Uint8Array | undefined;
  try {
    key = decodeBase64(text.trim());
  } catch {
    key = undefined;
  }
  if (key?.length !== 32) throw new UsageError("BUN_ACME_STORE_KEY must be base64 of 32 bytes (make one with: openssl rand -base64 32)");
  return key;
}

/** Opens the store `where` names (a shared one with the encryption key from the environment). */
export function openCommandStore(where: StoreLocation, env: Record<string, string | undefined>): CertificateStore & { close?(): unknown } {
  if (!where.shared) return openStore(where.location);
  const encryptionKey = storeEncryptionKey(env);
  return openStore(where.location, encryptionKey ? { encryptionKey } : {});
}
