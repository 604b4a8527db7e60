/**
 * The file store's archive (certbot's `archive/`): each certificate a save replaces is kept,
 * whole (key, chain, metadata, configuration), under `archive/<lineage>/<serial>/`, the newest
 * {@link ARCHIVED_VERSIONS} of each lineage; any of them can be made current again.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { FileToWrite } from "./atomic-files.ts";
import { checkOwnedPath } from "./file-permissions.ts";
import { parseJsonObject, parseLineageMeta, readLineageConfig, type LineageMeta, type StoredLineage } from "./lineage.ts";

/** How many replaced certificates each lineage keeps. */
export const ARCHIVED_VERSIONS = 5;

/** One archived certificate of a lineage. */
export interface ArchivedVersion {
  readonly serial: string;
  readonly notAfter: string;
  readonly obtainedAt: string;
}

const SERIAL = /^[0-9A-F]{1,80}$/;

/** The archive folder of a lineage. */
export function archiveFolder(storeDir: string, name: string): string {
  return join(storeDir, "archive", name);
}

/**
 * The files that keep the lineage's current certificate (read from `folder`) in the archive, or
 * none when there is no current one, or when it is the one being saved again.
 */
export function archiveFiles(storeDir: string, folder: string, name: string, replacedBy: LineageMeta): FileToWrite[] {
  const metaFile = join(folder, "metadata.json");
  if (!existsSync(metaFile) || !existsSync(join(folder, "privkey.pem"))) return [];
  try {
    const meta = parseLineageMeta(parseJsonObject(readFileSync(metaFile, "utf8"), metaFile), metaFile);
    if (meta.serial === replacedBy.serial || !SERIAL.test(meta.serial)) return [];
    const target = join(archiveFolder(storeDir, name), meta.serial);
    const copy = (file: string, mode: number): FileToWrite => ({ path: join(target, file), data: readFileSync(join(folder, file), "utf8"), mode });
    return [copy("privkey.pem", 0o600), copy("fullchain.pem", 0o644), copy("metadata.json", 0o644), copy("lineage.json", 0o600)];
  } catch {
    return []; // a damaged lineage being replaced: nothing whole to keep, and its repair must not wait on it
  }
}

/** The lineage's archived certificates, newest first (by when each was obtained). */
export function archivedVersions(storeDir: string, name: string): ArchivedVersion[] {
  const dir = archiveFolder(storeDir, name);
  if (!statSync(dir, { throwIfNoEntry: false })) return [];
  checkOwnedPath(storeDir, dir);
  return readdirSync(dir).filter((serial) => SERIAL.test(serial) && existsSync(join(dir, serial, "metadata.json"))).map((serial) => {
    const file = join(dir, serial, "metadata.json");
    checkOwnedPath(storeDir, file);
    const meta = parseLineageMeta(parseJsonObject(readFileSync(file, "utf8"), file), file);
    return { serial, notAfter: meta.notAfter, obtainedAt: meta.obtainedAt };
  }).sort((a, b) => b.obtainedAt.localeCompare(a.obtainedAt));
}

/** Removes all but the newest {@link ARCHIVED_VERSIONS} archived certificates of the lineage. */
export function pruneArchive(storeDir: string, name: string): void {
  for (const old of archivedVersions(storeDir, name).slice(ARCHIVED_VERSIONS)) rmSync(join(archiveFolder(storeDir, name), old.serial), { recursive: true, force: true });
}

/**
 * One archived certificate, whole, read only from files no one but this user or root can have written.
 *
 * @throws {StoreError} when it is not in the archive, or its files were written by someone else
 */
export function readArchived(storeDir: string, name: string, serial: string): StoredLineage | undefined {
  if (!SERIAL.test(serial)) return undefined;
  const dir = join(archiveFolder(storeDir, name), serial);
  if (!existsSync(join(dir, "metadata.json"))) return undefined;
  const read = (file: string) => {
    checkOwnedPath(storeDir, join(dir, file));
    return readFileSync(join(dir, file), "utf8");
  };
  return {
    config: readLineageConfig(read("lineage.json"), join(dir, "lineage.json"), name),
    meta: parseLineageMeta(parseJsonObject(read("metadata.json"), join(dir, "metadata.json")), join(dir, "metadata.json")),
    keyPem: read("privkey.pem"),
    chainPem: read("fullchain.pem"),
  };
}
