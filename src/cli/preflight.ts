/**
 * Checks made before the first request to the CA, so that nothing the user can fix is found only
 * after the CA has issued a certificate: ports that collide, folders that cannot be written.
 */
import { accessSync, constants, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makePrivateDir } from "../store/index.ts";
import { UsageError } from "./errors.ts";

/** One TCP port and the flag that sets it. */
export interface PortUse {
  readonly flag: string;
  readonly port: number;
}

/**
 * Every TCP listener needs a port of its own (the DNS server listens on TCP too).
 *
 * @throws {UsageError} naming both flags of the first collision
 */
export function checkDistinctPorts(uses: readonly PortUse[]): void {
  uses.forEach((use, index) => {
    const earlier = uses.slice(0, index).find((other) => other.port === use.port);
    if (earlier) throw new UsageError(`${use.flag} ${use.port} is also the ${earlier.flag}: give each server its own port`);
  });
}

/**
 * Makes sure `dir` exists (creating it) and that a file can be created in it and removed again:
 * what writing a key or certificate there will need. An existing file that must be read is
 * checked too (e.g. a saved account key), so that it is not silently taken for absent. Folders
 * made for keys (`holdsKeys`, the default) are 0700; a web server's document root keeps the umask.
 *
 * @throws {UsageError} naming the flag, the folder and the system's reason (EROFS, ENOTDIR, EACCES, ENOSPC...)
 */
export function checkUsableDir(dir: string, flag: string, mustRead: readonly string[] = [], holdsKeys = true): void {
  const fail = (error: unknown, path = dir) => {
    const code = (error as { code?: unknown }).code;
    return new UsageError(`${flag} ${dir}: cannot use ${path} (${typeof code === "string" ? code : (error as Error).message})`, { cause: error });
  };
  const probe = join(dir, `.bun-acme-probe-${process.pid}`);
  try {
    if (holdsKeys) makePrivateDir(dir); // new folders 0700, whatever the umask: they will hold private keys
    else mkdirSync(dir, { recursive: true });
    writeFileSync(probe, "", { mode: 0o600 });
    rmSync(probe, { force: true });
  } catch (error) {
    throw fail(error);
  }
  for (const name of mustRead) {
    const path = join(dir, name);
    try {
      if (!statSync(path, { throwIfNoEntry: false })) continue;
      accessSync(path, constants.R_OK);
      if (statSync(path).isDirectory()) throw Object.assign(new Error("a folder, not a file"), { code: "EISDIR" });
    } catch (error) {
      throw fail(error, path);
    }
  }
}
