/**
 * A store from one string, as the command line and the daemon's configuration give it: a folder
 * (the file store), or a `redis://` or `postgres://` URL (shared by a fleet).
 */
import { resolve } from "node:path";
import type { CertificateStore } from "./certificate-store.ts";
import { FileCertificateStore } from "./file-store.ts";
import { PostgresCertificateStore } from "./postgres-store.ts";
import { RedisCertificateStore } from "./redis-store.ts";

/** What shared stores take beyond their URL. */
export interface StoreOpenOptions {
  /** 32 bytes that encrypt private keys in a shared store. */
  readonly encryptionKey?: Uint8Array;
  /** Lock lease of a shared store, in milliseconds (default 30 000). */
  readonly leaseMs?: number;
}

/** Whether `location` names a store shared by a fleet (a `redis://` or `postgres://` URL) rather than a folder. */
export function isSharedStoreLocation(location: string): boolean {
  return /^(rediss?|postgres(ql)?):\/\//.test(location);
}

/**
 * Opens the store `location` names.
 *
 * @example openStore("redis://10.0.0.5:6379") // a fleet's store; openStore("/var/lib/bun-acme") // one machine's
 * @throws {RangeError} for an encryption key that is not 32 bytes
 */
export function openStore(location: string, options: StoreOpenOptions = {}): CertificateStore & { close?(): unknown } {
  if (/^rediss?:\/\//.test(location)) return new RedisCertificateStore(location, options);
  if (/^postgres(ql)?:\/\//.test(location)) return new PostgresCertificateStore(location, options);
  return new FileCertificateStore(resolve(location));
}
