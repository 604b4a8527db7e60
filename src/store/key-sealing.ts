/**
 * Private keys at rest in a shared store: AES-256-GCM with a key the operator holds (e.g. from an
 * environment variable), so that a dump of the store reveals no private key.
 */
import { decodeBase64, encodeBase64 } from "../encoding/index.ts";
import { StoreError } from "./lineage.ts";

const SEALED = "aes-256-gcm:";

/**
 * Where a store records that its keys are encrypted, so that an instance started without the
 * encryption key cannot add keys in clear to it.
 */
export interface SealedMarker {
  isSealed(): Promise<boolean>;
  markSealed(): Promise<void>;
}

/** Seals and opens PEM private keys; without a key it passes them through, unless the store's keys are sealed. */
export class KeySealer {
  private readonly key: Promise<CryptoKey> | undefined;
  private readonly where: string;
  private readonly marker: SealedMarker | undefined;
  private marked: Promise<void> | undefined;

  /** @throws {RangeError} for a key that is not 32 bytes */
  constructor(key: Uint8Array | undefined, where: string, marker?: SealedMarker) {
    if (key && key.length !== 32) throw new RangeError("The store encryption key must be 32 bytes (AES-256)");
    this.key = key ? crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]) : undefined;
    this.where = where;
    this.marker = marker;
  }

  /**
   * The key as it is to be stored.
   *
   * @throws {StoreError} `ERR_STORE_ENCRYPTED` when no encryption key is given but the store's keys are encrypted
   */
  async seal(pem: string): Promise<string> {
    if (!this.key) {
      if (await this.marker?.isSealed()) {
        throw new StoreError(`${this.where}: its private keys are encrypted, so this one is not stored in clear; give the store's encryption key (the command line and the daemon read it from BUN_ACME_STORE_KEY)`, "ERR_STORE_ENCRYPTED");
      }
      return pem;
    }
    this.marked ??= this.marker?.markSealed();
    await this.marked?.catch((error: unknown) => {
      this.marked = undefined;
      throw error;
    });
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await this.key, new TextEncoder().encode(pem)));
    const joined = new Uint8Array(iv.length + sealed.length);
    joined.set(iv);
    joined.set(sealed, iv.length);
    return `${SEALED}${encodeBase64(joined)}`;
  }

  /** @throws {StoreError} `ERR_STORE_ENCRYPTED` when the key is sealed and no key, or another key, is given */
  async open(stored: string, what: string): Promise<string> {
    if (!stored.startsWith(SEALED)) return stored;
    if (!this.key) throw new StoreError(`${this.where} ${what}: the private key is encrypted; give the store's encryption key (the command line and the daemon read it from BUN_ACME_STORE_KEY)`, "ERR_STORE_ENCRYPTED");
    const joined = decodeBase64(stored.slice(SEALED.length));
    try {
      const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: joined.subarray(0, 12) as Uint8Array<ArrayBuffer> }, await this.key, joined.subarray(12) as Uint8Array<ArrayBuffer>);
      return new TextDecoder().decode(plain);
    } catch {
      throw new StoreError(`${this.where} ${what}: the private key does not decrypt with this encryption key`, "ERR_STORE_ENCRYPTED");
    }
  }
}
