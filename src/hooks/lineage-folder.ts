/**
 * The folder a deploy hook's `RENEWED_LINEAGE` names: the store's own folder for the lineage when
 * it has one, else (a shared store) a private copy of its files, removed once the hook is done.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chainFiles, writeFilesAtomic, type StoredLineage } from "../store/index.ts";

/**
 * Runs `work` with a folder holding the lineage's files for `RENEWED_LINEAGE`: `folder` when given,
 * else a private copy (0700, certbot's `live/` file names, the key 0600) removed afterwards.
 *
 * @throws whatever writing the copy or `work` throws (the copy is removed either way)
 */
export async function withLineageFolder<T>(folder: string | undefined, lineage: StoredLineage, work: (folder: string) => Promise<T>): Promise<T> {
  if (folder !== undefined) return work(folder);
  const copy = mkdtempSync(join(tmpdir(), "bun-acme-lineage-")); // mkdtemp makes it 0700
  try {
    writeLineageFiles(copy, lineage);
    return await work(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}

/**
 * Writes a lineage's files into `out` together, with certbot's `live/` names: cert.pem, chain.pem,
 * fullchain.pem, privkey.pem (0600).
 *
 * @throws when a file cannot be written (none is left half-written)
 */
export function writeLineageFiles(out: string, lineage: StoredLineage): void {
  writeFilesAtomic([...chainFiles(out, lineage.chainPem), { path: join(out, "privkey.pem"), data: lineage.keyPem, mode: 0o600 }]);
}
