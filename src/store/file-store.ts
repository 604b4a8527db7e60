/**
 * The file store, the embedded default: one folder per lineage under `<dir>/certificates/`, in
 * certbot's file names, next to the account the ETH command's `--state` already keeps in `<dir>`.
 *
 * ```
 * <dir>/account-key.pem, account.json          the account (as `--state` has always kept it)
 * <dir>/certificates/<name>/lineage.json       how it is obtained (names, CA, key type, solver spec, CLI hooks; version 2)
 *                           metadata.json      serial, validity, ARI ID, when obtained, next renewal
 *                           privkey.pem (0600), cert.pem, chain.pem, fullchain.pem
 *                           .lock              while a run works on it
 * ```
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmdirSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { decodePemBlocks, encodePem } from "../encoding/index.ts";
import { accountKeyPath, fileAccountStorage, type AccountStorage } from "./account-state.ts";
import { writeFilesAtomic, type FileToWrite } from "./atomic-files.ts";
import { ARCHIVED_VERSIONS, archivedVersions, archiveFiles, pruneArchive, readArchived, type ArchivedVersion } from "./file-archive.ts";
import type { CertificateStore, LineageSummary, LoadedLineages } from "./certificate-store.ts";
import { loadEach } from "./load-each.ts";
import { acquireFileLock, type LockOptions, type StoreLock } from "./file-lock.ts";
import { checkOwnedPath, makePrivateDir } from "./file-permissions.ts";
import { checkLineageName, parseJsonObject, parseLineageMeta, readLineageConfig, StoreError, type LineageMeta, type StoredLineage } from "./lineage.ts";

/**
 * The default store folder: `/var/lib/bun-acme` for root, else `$XDG_STATE_HOME/bun-acme`, else
 * `~/.local/state/bun-acme`.
 *
 * @see https://specifications.freedesktop.org/basedir-spec/latest/
 */
export function defaultStoreDir(env: Record<string, string | undefined> = process.env): string {
  if (process.getuid?.() === 0) return "/var/lib/bun-acme";
  return join(env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "bun-acme");
}

/** The lineages under one folder. */
export class FileCertificateStore implements CertificateStore {
  readonly dir: string;
  readonly description: string;

  constructor(dir: string) {
    this.dir = dir;
    this.description = `the file store ${dir}`;
  }

  /** The account in the store folder; its key is read only from a folder and file no one else can write. */
  accountStorage(): AccountStorage {
    const files = fileAccountStorage(this.dir);
    return {
      ...files,
      readKey: async () => {
        checkOwnedPath(this.dir, accountKeyPath(this.dir));
        return files.readKey();
      },
    };
  }

  locate(name: string): string {
    return join(this.dir, "certificates", checkLineageName(name));
  }

  /**
   * @throws {Error} from the file system (e.g. `EACCES`) when the store cannot be read: an
   * unreadable store is not an empty one
   * @throws {StoreError} `ERR_STORE_PERMISSIONS` when another user could have written the store's folders
   */
  async list(): Promise<string[]> {
    const root = join(this.dir, "certificates");
    if (!statSync(root, { throwIfNoEntry: false })) return [];
    checkOwnedPath(this.dir, root);
    return readdirSync(root, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(root, entry.name, "lineage.json")))
      .map((entry) => entry.name)
      .sort();
  }

  /**
   * Reads the lineage's configuration (which may name commands to run) only from files and folders
   * no one but this user or root can have written.
   *
   * @throws {StoreError} `ERR_STORE_PERMISSIONS` naming the file or folder another user could have written
   */
  async summary(name: string): Promise<LineageSummary | undefined> {
    return this.readSummary(name, new Set());
  }

  async load(name: string): Promise<StoredLineage | undefined> {
    return this.readLineage(name, new Set());
  }

  /** Every named lineage stored (see {@link CertificateStore.loadMany}), read one after another. */
  loadMany(names: readonly string[]): Promise<LoadedLineages> {
    const checked = new Set<string>(); // folders found sound, examined once for the whole batch
    return loadEach(names, (name) => this.readLineage(name, checked));
  }

  /** {@link summary}, with the folders already found sound in `checked` (see {@link checkOwnedPath}). */
  private async readSummary(name: string, checked: Set<string>): Promise<LineageSummary | undefined> {
    const folder = this.locate(name);
    const configFile = join(folder, "lineage.json");
    checkOwnedPath(this.dir, configFile, checked);
    if (!statSync(configFile, { throwIfNoEntry: false })) return undefined;
    const metaFile = join(folder, "metadata.json");
    checkOwnedPath(this.dir, metaFile, checked);
    if (!statSync(metaFile, { throwIfNoEntry: false })) throw new StoreError(`${metaFile} is missing; the lineage cannot be renewed without it: obtain it again with certonly --force`, "ERR_STORE_CORRUPT");
    return {
      config: readLineageConfig(readFileSync(configFile, "utf8"), configFile, name),
      meta: parseLineageMeta(parseJsonObject(readFileSync(metaFile, "utf8"), metaFile), metaFile),
      authenticated: true,
    };
  }

  /** {@link load}, with the folders already found sound in `checked`. */
  private async readLineage(name: string, checked: Set<string>): Promise<StoredLineage | undefined> {
    const summary = await this.readSummary(name, checked);
    if (!summary) return undefined;
    const folder = this.locate(name);
    for (const file of ["privkey.pem", "fullchain.pem"]) checkOwnedPath(this.dir, join(folder, file), checked);
    return { config: summary.config, meta: summary.meta, keyPem: readLineageFile(join(folder, "privkey.pem")), chainPem: readLineageFile(join(folder, "fullchain.pem")) };
  }

  /**
   * Saves the lineage; the certificate it replaces goes to the archive (the newest
   * {@link ARCHIVED_VERSIONS} are kept) in the same all-or-nothing write.
   */
  async save(lineage: StoredLineage): Promise<void> {
    const name = lineage.config.name;
    const folder = this.locate(name);
    this.write([
      ...archiveFiles(this.dir, folder, name, lineage.meta),
      { path: join(folder, "privkey.pem"), data: lineage.keyPem, mode: 0o600 },
      ...chainFiles(folder, lineage.chainPem),
      { path: join(folder, "metadata.json"), data: json(lineage.meta), mode: 0o644 },
      // 0600: it may hold a TSIG secret given with --tsig.
      { path: join(folder, "lineage.json"), data: json(lineage.config), mode: 0o600 },
    ]);
    pruneArchive(this.dir, name);
  }

  /** The certificates of the lineage that saves replaced, newest first. */
  async versions(name: string): Promise<ArchivedVersion[]> {
    return archivedVersions(this.dir, checkLineageName(name));
  }

  /**
   * Makes an archived certificate current again (the current one is archived in its place).
   * Call it under the lineage's lock.
   *
   * @throws {StoreError} `ERR_STORE_NOT_ARCHIVED` when the archive has no certificate `serial`
   */
  async restore(name: string, serial: string): Promise<StoredLineage> {
    const archived = readArchived(this.dir, checkLineageName(name), serial.toUpperCase());
    if (!archived) {
      const kept = archivedVersions(this.dir, name).map((version) => version.serial);
      throw new StoreError(`Lineage ${name} has no archived certificate ${serial}${kept.length ? ` (archived: ${kept.join(", ")})` : " (nothing is archived yet)"}`, "ERR_STORE_NOT_ARCHIVED");
    }
    await this.save(archived);
    return archived;
  }

  async saveMeta(name: string, meta: LineageMeta): Promise<void> {
    this.write([{ path: join(this.locate(name), "metadata.json"), data: json(meta), mode: 0o644 }]);
  }

  /**
   * Takes the lineage's lock file, making its folder (0700) when needed; a folder made for a
   * lineage that was then never saved is removed again on release, so a failed first issuance
   * leaves no empty lineage behind.
   */
  async lock(name: string, options?: LockOptions): Promise<StoreLock> {
    const folder = this.locate(name);
    const made = !statSync(folder, { throwIfNoEntry: false });
    makePrivateDir(folder);
    checkOwnedPath(this.dir, folder);
    const lock = await acquireFileLock(join(folder, ".lock"), `Lineage ${name}`, options);
    if (!made) return lock;
    return {
      release: async () => {
        await lock.release();
        try {
          rmdirSync(folder); // only if empty: nothing was saved in it
        } catch { /* not empty, or already gone */ }
      },
    };
  }

  /**
   * @throws {StoreError} when a target is a symbolic link: an atomic replacement would leave its
   * target stale while looking updated
   */
  private write(files: readonly FileToWrite[]): void {
    for (const file of files) {
      if (lstatSync(file.path, { throwIfNoEntry: false })?.isSymbolicLink()) {
        throw new StoreError(
          `${file.path} is a symbolic link; bun-acme replaces store files whole and would not update its target: remove the link (use --out or a deploy hook to put copies elsewhere)`,
          "ERR_STORE_SYMLINK",
        );
      }
    }
    writeFilesAtomic(files);
  }
}

/** `cert.pem` (leaf), `chain.pem` (the rest), `fullchain.pem` (both), as certbot names them. */
export function chainFiles(folder: string, chainPem: string): FileToWrite[] {
  const certificates = decodePemBlocks(chainPem).filter((block) => block.label === "CERTIFICATE").map((block) => encodePem("CERTIFICATE", block.der));
  return [
    { path: join(folder, "cert.pem"), data: certificates[0] ?? "", mode: 0o644 },
    { path: join(folder, "chain.pem"), data: certificates.slice(1).join(""), mode: 0o644 },
    { path: join(folder, "fullchain.pem"), data: certificates.join(""), mode: 0o644 },
  ];
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * A lineage's key or chain file. A missing one is the lineage's damage (it is obtained again, the
 * others are served), not an error of the whole store: thrown as it was, one deleted privkey.pem
 * stopped a daemon's start and every other site with it.
 *
 * @throws {StoreError} `ERR_STORE_CORRUPT` when the file is missing
 * @throws {Error} from the file system for a file that cannot be read (e.g. `EACCES`)
 */
function readLineageFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    throw new StoreError(`${path} is missing: the lineage cannot be served without it, and is obtained again`, "ERR_STORE_CORRUPT");
  }
}
