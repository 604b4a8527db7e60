/**
 * Temporary folders for tests, all removed when the test process exits (whatever the outcome),
 * so that a run leaves nothing behind in the system's temporary folder.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const created: string[] = [];
let hooked = false;

/** A new empty folder under the system's temporary folder, named `bun-acme-<prefix>-XXXXXX`. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `bun-acme-${prefix.replace(/^bun-acme-/, "").replace(/-$/, "")}-`));
  created.push(dir);
  if (!hooked) {
    hooked = true;
    process.on("exit", removeTempDirs);
  }
  return dir;
}

/** Removes every folder {@link makeTempDir} made so far. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
