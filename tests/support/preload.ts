/**
 * Loaded before every test file (bunfig.toml `[test] preload`): hooks that span the whole run.
 */
import { afterAll } from "bun:test";
import { chmodSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { removeTempDirs } from "./temp.ts";

// Every temporary folder the tests made, removed once the last test file has run.
// Removing PostgreSQL data folders on a loaded machine can take longer than Bun's 5 s hook default.
afterAll(removeTempDirs, 60_000);

// Some tests run the checkout's code as another user (`nobody`, through setpriv). A checkout cloned into `mktemp -d`
// (0700, as CI's instructions do) is out of that user's reach: the checkout folder gets o+rx like every folder git made
// inside it (Bun lists it to resolve modules), the temporary folders above it o+x (search only). Only folders under the
// system's temporary folder are touched, never a home folder.
if (process.getuid?.() === 0) {
  const temp = tmpdir();
  const checkout = join(import.meta.dir, "..", "..");
  for (let dir = checkout; dir.startsWith(`${temp}/`); dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    const wanted = dir === checkout ? 0o005 : 0o001;
    if ((mode & wanted) !== wanted) chmodSync(dir, (mode & 0o7777) | wanted);
  }
}
