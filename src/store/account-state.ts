/**
 * A persistent account in a state directory: `account-key.pem` (PKCS#8, mode 0600) and
 * `account.json` (the directory and account URLs). Later runs with the same directory reuse it.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AcmeProblemError, findAccount, registerAccount, type AcmeAccount, type AcmeTransport, type ExternalAccountBinding } from "../acme/index.ts";
import { importPrivateKeyPem } from "../asn1/index.ts";
import { exportPrivateKeyPem, generateKeyPair, type KeyType } from "../jose/index.ts";
import { writeFileAtomic } from "./atomic-files.ts";

/** What `account.json` holds. */
export interface AccountRecord {
  readonly directoryUrl: string;
  readonly accountUrl: string;
}

/** Where an account's key and record are kept: a state folder, or a shared store. */
export interface AccountStorage {
  /** The saved key (PKCS#8 PEM), or `undefined` when there is none yet. */
  readKey(): Promise<string | undefined>;
  saveKey(pem: string): Promise<void>;
  saveRecord(record: AccountRecord): Promise<void>;
}

/**
 * The state folder's account files: `account-key.pem` (0600) and `account.json`.
 */
export function fileAccountStorage(stateDir: string): AccountStorage {
  return {
    // statSync, not existsSync: a key that exists but cannot be reached (EACCES) must not pass for absent.
    readKey: async () => (statSync(accountKeyPath(stateDir), { throwIfNoEntry: false }) ? readFileSync(accountKeyPath(stateDir), "utf8") : undefined),
    saveKey: async (pem) => writeFileAtomic(accountKeyPath(stateDir), pem, 0o600),
    saveRecord: async (record) => writeFileAtomic(join(stateDir, "account.json"), `${JSON.stringify(record, null, 2)}\n`, 0o644),
  };
}

/** How to open an account. */
export interface OpenAccountOptions {
  /** A state directory to load the account from and save it to. */
  readonly stateDir?: string;
  /** Or any storage for it (a shared store's); takes precedence over `stateDir`. */
  readonly storage?: AccountStorage;
  /** A key pair to register as the account, instead of the state directory's or a fresh one. */
  readonly keyPair?: CryptoKeyPair;
  /** The type of a fresh key (default `ec256`). */
  readonly keyType?: KeyType;
  readonly contact?: readonly string[];
  readonly eab?: ExternalAccountBinding;
}

/** The state directory's key file. */
export function accountKeyPath(stateDir: string): string {
  return join(stateDir, "account-key.pem");
}

/**
 * Opens the account, agreeing to the CA's terms of service: with a state directory holding a
 * key, finds the CA's account for it (`onlyReturnExisting`), registering it only if the CA does
 * not know it (e.g. another CA); otherwise registers a new account with the given key pair or a
 * fresh key, and saves key and URLs to the state directory when there is one. The key is written
 * (0600) only after the CA accepted the account.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.1
 * @example const { account } = await openAccount(transport, { stateDir: "/var/lib/bun-acme" });
 * @throws {AcmeProblemError} when the CA refuses the account
 * @throws {SyntaxError} when the state directory's key file is not a private key
 * @throws {Error} from the file system (e.g. `EACCES`) when the state directory cannot be read or written
 */
export async function openAccount(transport: AcmeTransport, options: OpenAccountOptions = {}): Promise<{ account: AcmeAccount; reused: boolean }> {
  const contact = options.contact ?? [];
  const request = { termsOfServiceAgreed: true, ...(contact.length ? { contact } : {}) };
  const storage = options.storage ?? (options.stateDir !== undefined ? fileAccountStorage(options.stateDir) : undefined);
  const record = (accountUrl: string): AccountRecord => ({ directoryUrl: transport.directoryUrl, accountUrl });
  const savedKey = storage && !options.keyPair ? await storage.readKey() : undefined;
  if (savedKey !== undefined) {
    const keyPair = await importPrivateKeyPem(savedKey);
    try {
      return { account: await findAccount(transport, keyPair), reused: true };
    } catch (error) {
      if (!(error instanceof AcmeProblemError) || !error.is("accountDoesNotExist")) throw error;
      const account = await registerAccount(transport, keyPair, request, options.eab);
      await storage!.saveRecord(record(account.kid));
      return { account, reused: false };
    }
  }
  const keyPair = options.keyPair ?? await generateKeyPair(options.keyType ?? "ec256");
  const account = await registerAccount(transport, keyPair, request, options.eab);
  if (storage) {
    await storage.saveKey(await exportPrivateKeyPem(keyPair.privateKey));
    await storage.saveRecord(record(account.kid));
  }
  return { account, reused: false };
}

/**
 * Saves a new account key to the state directory (after a key rollover), atomically and 0600.
 *
 * @throws {Error} from the file system, with the old key untouched
 */
export async function saveAccountKey(stateDir: string, privateKey: CryptoKey): Promise<void> {
  writeFileAtomic(accountKeyPath(stateDir), await exportPrivateKeyPem(privateKey), 0o600);
}

