/**
 * Who may have written a store file. A root-run `renew` reads from the file store what to execute
 * (hooks) and which key to use, so, as OpenSSH's StrictModes does for `authorized_keys`, every
 * folder and file on the way from the store folder down is refused when someone other than the
 * running user or root owns it, or when group or others may write it. Folders bun-acme creates are
 * 0700 whatever the umask.
 * @see https://man.openbsd.org/sshd_config#StrictModes
 */
import { chmodSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { StoreError } from "./lineage.ts";

/**
 * Creates `dir` and any missing parents, each new folder 0700 (chmod after mkdir, so that the
 * umask cannot widen it); folders that already exist are left as they are.
 *
 * @throws {Error} from the file system (e.g. `EACCES`, `ENOTDIR`)
 */
export function makePrivateDir(dir: string): void {
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let folder = dir; ; folder = dirname(folder)) {
    chmodSync(folder, 0o700);
    if (folder === first || dirname(folder) === folder) break;
  }
}

/**
 * Checks `path` and every folder between `root` (included) and it: each must be owned by the
 * running user or root and not writable by group or others. Missing entries are skipped (they
 * are checked when they exist). Folders already in `checked` are not examined again, and those
 * found sound are added to it: a batch of reads (`loadMany`) shares one set, so that the store
 * folder and `certificates/` are examined once, not at every file of every lineage.
 *
 * @throws {StoreError} `ERR_STORE_PERMISSIONS` naming the first entry at fault and what to do
 * @throws {Error} from the file system for an entry that cannot be examined (e.g. `EACCES`)
 */
export function checkOwnedPath(root: string, path: string, checked: Set<string> = new Set()): void {
  const uid = process.getuid?.();
  if (uid === undefined) return; // no owners to check (Windows)
  const steps = relative(root, path).split(sep).filter((part) => part !== "" && part !== ".");
  if (steps[0] === "..") throw new RangeError(`${path} is not inside ${root}`);
  let current = root;
  for (const step of [undefined, ...steps]) {
    if (step !== undefined) current = join(current, step);
    if (checked.has(current)) continue;
    const stats = statSync(current, { throwIfNoEntry: false });
    if (!stats) return;
    const kind = stats.isDirectory() ? "folder" : "file";
    if (stats.uid !== uid && stats.uid !== 0) {
      throw new StoreError(
        `Refusing the store ${kind} ${current}: it is owned by uid ${stats.uid}, not by this user (uid ${uid}) or root, and bun-acme reads commands and keys from it: check who put it there, then chown ${uid === 0 ? "root" : uid} ${current}`,
        "ERR_STORE_PERMISSIONS",
      );
    }
    // Group-writable is harmless only for the user's private group (whose lookup reads /etc/group: only when it matters).
    const writableBy = stats.mode & ((stats.mode & 0o020) !== 0 && privateGroup(stats.gid, uid) ? 0o002 : 0o022);
    if (writableBy !== 0) {
      throw new StoreError(
        `Refusing the store ${kind} ${current}: its mode ${(stats.mode & 0o777).toString(8).padStart(4, "0")} lets ${(writableBy & 0o002) !== 0 ? "everyone" : "its group"} write it, and bun-acme reads commands and keys from it: check its content, then chmod go-w ${current}`,
        "ERR_STORE_PERMISSIONS",
      );
    }
    if (kind === "folder") checked.add(current);
  }
}

/**
 * Whether `gid` is the running user's private group (the user's primary group, with no other
 * member): what a umask of 002 makes group-writable harmlessly. Debian's OpenSSH accepts it too.
 * @see https://salsa.debian.org/ssh-team/openssh/-/blob/master/debian/patches/user-group-modes.patch
 */
function privateGroup(gid: number, uid: number): boolean {
  if (gid !== process.getgid?.() || uid === 0) return false;
  try {
    const group = readFileSync("/etc/group", "utf8").split("\n").map((line) => line.split(":")).find((fields) => Number(fields[2]) === gid);
    if (!group || (group[3] ?? "").trim() !== "") return false;
    const sharing = readFileSync("/etc/passwd", "utf8").split("\n").map((line) => line.split(":")).filter((fields) => Number(fields[3]) === gid);
    return sharing.every((fields) => Number(fields[2]) === uid);
  } catch {
    return false;
  }
}
