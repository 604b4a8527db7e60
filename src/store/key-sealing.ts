/**
 * Records at rest in a shared store, sealed with a key the operator holds (e.g. from an
 * environment variable): AES-256-GCM with the record's name as associated data, over every record
 * that can change what bun-acme does (private keys, the account key, a lineage's configuration
 * with its hooks and TSIG secret). A dump of the store then reveals no secret, and someone who can
 * write to the store but lacks the key can neither plant a key nor make an instance run a command:
 * an unsealed, altered or moved record is refused and named.
 *
 * Threat model: a store writer without the key can delete records, replay an older sealed record
 * under the same name, and change what is not sealed (metadata, chains, the account URL): that
 * denies service (a broken chain, a renewal too early or too late), never runs code or swaps a key.
 *
 * Formats: `v2:aes-256-gcm:<base64 of iv (12 bytes) || ciphertext+tag>`, name as associated data
 * (written now); `aes-256-gcm:<same>` without associated data (private keys written before; still
 * read); plain text (a store without a key).
 */
import { decodeBase64, encodeBase64 } from "../encoding/index.ts";
import { StoreError } from "./lineage.ts";

const SEALED = "v2:aes-256-gcm:";
const LEGACY_SEALED = "aes-256-gcm:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HOW_TO_GIVE_KEY = "the command line and the daemon read it from BUN_ACME_STORE_KEY";

/**
 * Where a store records that its keys are encrypted, so that an instance started without the
 * encryption key cannot add keys in clear to it.
 */
export interface SealedMarker {
  isSealed(): Promise<boolean>;
  markSealed(): Promise<void>;
}

/** A record's text as opened, and whether the key vouched for it. */
export interface OpenedRecord {
  readonly text: string;
  /** Sealed with the store's key under this record's name. */
  readonly authenticated: boolean;
}

/** Seals and opens a store's records; without a key it passes them through, unless the store's keys are sealed. */
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

  /** Whether this instance has the store's key. */
  get hasKey(): boolean {
    return this.key !== undefined;
  }

  /**
   * The record as it is to be stored under `name` (e.g. `bun-acme:lineage:example.net/key`).
   *
   * @throws {StoreError} `ERR_STORE_ENCRYPTED` when no encryption key is given but the store's keys are encrypted
   */
  async seal(plain: string, name: string): Promise<string> {
    return (await this.sealEach([[plain, name]]))[0]!;
  }

  /**
   * Several records of one write, as {@link seal} gives each: without a key, the store is asked
   * once for all of them whether its records are encrypted.
   *
   * With `checkedByWrite`, the store is not asked: the write that follows checks the marker itself
   * (in the same round trip) and throws {@link unsealedRefused} when it is set.
   *
   * @throws {StoreError} `ERR_STORE_ENCRYPTED` when no encryption key is given but the store's keys are encrypted
   */
  async sealEach(records: readonly (readonly [plain: string, name: string])[], options: { readonly checkedByWrite?: boolean } = {}): Promise<string[]> {
    if (!this.key) {
      if (!options.checkedByWrite && (await this.marker?.isSealed())) throw this.unsealedRefused(records[0]?.[1] ?? "");
      return records.map(([plain]) => plain);
    }
    this.marked ??= this.marker?.markSealed();
    await this.marked?.catch((error: unknown) => {
      this.marked = undefined;
      throw error;
    });
    const key = await this.key;
    return Promise.all(records.map(async ([plain, name]) => {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: new TextEncoder().encode(name) }, key, new TextEncoder().encode(plain)));
      const joined = new Uint8Array(iv.length + sealed.length);
      joined.set(iv);
      joined.set(sealed, iv.length);
      return `${SEALED}${encodeBase64(joined)}`;
    }));
  }

  /** The error for a record in clear refused because the store's records are sealed (`ERR_STORE_ENCRYPTED`). */
  unsealedRefused(name: string): StoreError {
    return new StoreError(`${this.where} ${name}: the store's records are encrypted, so this one is not stored in clear; give the store's encryption key (${HOW_TO_GIVE_KEY})`, "ERR_STORE_ENCRYPTED");
  }

  /**
   * A private key stored under `name`. With the store's key, only a sealed record is accepted
   * (also the format without associated data that earlier versions wrote).
   *
   * @throws {StoreError} `ERR_STORE_UNSEALED` for a key in clear in an encrypted store, `ERR_STORE_TAMPERED`
   * for one that does not open with this key under this name, `ERR_STORE_ENCRYPTED` for a sealed key and no key given
   */
  async openKey(stored: string, name: string): Promise<string> {
    const opened = await this.open(stored, name);
    if (this.key && !opened.authenticated && !stored.startsWith(LEGACY_SEALED)) {
      throw new StoreError(
        `${this.where} ${name}: the private key is stored in clear, but this store's records are sealed with its key: refused (someone without the key wrote it); remove it, or obtain the certificate again with certonly --force`,
        "ERR_STORE_UNSEALED",
      );
    }
    return opened.text;
  }

  /**
   * Any record stored under `name`: a sealed one opened (and vouched for), one in clear passed
   * through as not vouched for.
   *
   * @throws {StoreError} `ERR_STORE_TAMPERED` for a sealed record that does not open with this key under
   * this name (altered, moved from another name, or sealed with another key), `ERR_STORE_ENCRYPTED` for a
   * sealed record and no key given
   */
  async open(stored: string, name: string): Promise<OpenedRecord> {
    const legacy = !stored.startsWith(SEALED) && stored.startsWith(LEGACY_SEALED);
    if (!stored.startsWith(SEALED) && !legacy) return { text: stored, authenticated: false };
    if (!this.key) throw new StoreError(`${this.where} ${name}: the record is encrypted; give the store's encryption key (${HOW_TO_GIVE_KEY})`, "ERR_STORE_ENCRYPTED");
    const tampered = () => new StoreError(
      `${this.where} ${name}: the sealed record does not open with this encryption key: it was altered, moved from another record, or sealed with another key; refused`,
      "ERR_STORE_TAMPERED",
    );
    let joined: Uint8Array;
    try {
      joined = decodeBase64(stored.slice(legacy ? LEGACY_SEALED.length : SEALED.length));
    } catch {
      throw tampered();
    }
    if (joined.length < IV_BYTES + TAG_BYTES) throw tampered();
    const iv = joined.subarray(0, IV_BYTES) as Uint8Array<ArrayBuffer>;
    // Its own type, not DOM's AesGcmParams: the sources type-check in a project without the DOM lib.
    const algorithm: { name: "AES-GCM"; iv: Uint8Array<ArrayBuffer>; additionalData?: Uint8Array<ArrayBuffer> } = legacy ? { name: "AES-GCM", iv } : { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(name) };
    let plain: ArrayBuffer;
    try {
      plain = await crypto.subtle.decrypt(algorithm, await this.key, joined.subarray(IV_BYTES) as Uint8Array<ArrayBuffer>);
    } catch {
      throw tampered();
    }
    const text = new TextDecoder("utf-8", { fatal: false }).decode(plain);
    // The format without associated data was written for private keys only: it vouches for the key, not the name.
    return { text, authenticated: !legacy };
  }
}
