/**
 * Crash-safe file output: write to a temporary file in the same folder, flush it, then rename
 * over the target, so that a reader never sees a truncated key or certificate.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically. The temporary file is created with `mode` before any byte is
 * written (so a private key is never readable by others, even for a moment), and is removed if
 * anything fails.
 *
 * @throws {Error} from the file system (e.g. `EACCES`), with the target untouched
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const fd = openSync(temporary, "wx", mode);
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temporary, path);
  } catch (error) {
    try {
      closeSync(fd);
    } catch { /* already closed */ }
    try {
      unlinkSync(temporary);
    } catch { /* never created or already renamed */ }
    throw error;
  }
}
