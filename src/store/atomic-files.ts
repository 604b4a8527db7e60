/**
 * Crash-safe file output: write to a temporary file in the same folder, flush it, then rename
 * over the target, so that a reader never sees a truncated key or certificate.
 */
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { makePrivateDir } from "./file-permissions.ts";

/** One file to write. */
export interface FileToWrite {
  readonly path: string;
  readonly data: string | Uint8Array;
  /** Permission bits, applied when the file is created, before any byte is written. */
  readonly mode: number;
}

/**
 * Writes several files so that they change together as nearly as a file system allows: every
 * temporary file is written and flushed first, and only then are they renamed into place, one
 * right after another. A failure before the renames leaves every target untouched and removes
 * the temporary files. (A certificate and its key thus never come from different runs unless the
 * process dies between two renames.) Missing folders are made 0700, whatever the umask: they hold
 * private keys.
 *
 * @throws {Error} from the file system (e.g. `EACCES`), with the targets untouched
 */
export function writeFilesAtomic(files: readonly FileToWrite[]): void {
  const temporaries: string[] = [];
  try {
    for (const file of files) {
      // A rename onto a directory would fail only after earlier files were replaced: refuse first.
      if (statSync(file.path, { throwIfNoEntry: false })?.isDirectory()) {
        throw Object.assign(new Error(`EISDIR: ${file.path} is a directory`), { code: "EISDIR", path: file.path });
      }
      temporaries.push(writeTemporary(file));
    }
    files.forEach((file, i) => {
      renameSync(temporaries[i]!, file.path);
      temporaries[i] = "";
    });
  } catch (error) {
    for (const temporary of temporaries) if (temporary) removeQuietly(temporary);
    throw error;
  }
}

/**
 * Writes one file atomically (see {@link writeFilesAtomic}).
 *
 * @throws {Error} from the file system, with the target untouched
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  writeFilesAtomic([{ path, data, mode }]);
}

function writeTemporary(file: FileToWrite): string {
  makePrivateDir(dirname(file.path)); // folders it makes are 0700, whatever the umask
  const temporary = join(dirname(file.path), `.${basename(file.path)}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  // "wx": never follow or reuse an existing file; the mode is set at creation.
  const fd = openSync(temporary, "wx", file.mode);
  try {
    const bytes = typeof file.data === "string" ? new TextEncoder().encode(file.data) : file.data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    removeQuietly(temporary);
    // A write error on a descriptor names no file: name the one that was being replaced.
    throw Object.assign(error as Error, { path: file.path });
  }
  closeSync(fd);
  return temporary;
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch { /* already gone */ }
}
