/**
 * Private keys at rest in a shared store: AES-256-GCM with a key the operator holds (e.g. from an
 * environment variable), so that a dump of the store reveals no private key.
 */
import { decodeBase64, encodeBase64 } from "../encoding/index.ts";
import { StoreError } from "./lineage.ts";

const SEALED = "aes-256-gcm:";

/** Seals and opens PEM private keys; without a key it passes them through. */
export class KeySealer {
  private readonly key: Promise<CryptoKey> | undefined;
  private readonly where: string;

  /** @throws {RangeError} for a key that is not 32 bytes */
  constructor(key: Uint8Array | undefined, where: string) {
    if (key && key.length !== 32) throw new RangeError("The store encryption key must be 32 bytes (AES-256)");
    this.key = key ? crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "AES-GCM", false, ["encrypt", "decrypt"]) : undefined;
    this.where = where;
  }

  async seal(pem: string): Promise<string> {
    if (!this.key) return pem;
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
