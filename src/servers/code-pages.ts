/**
 * Most of a compiled daemon's resident memory is not its own data but Bun's executable (about
 * 105 MiB on disk) as far as it has been run: every code path taken once, module loading, the ACME
 * client, key checks, stays mapped and counted in RSS although a serving daemon does not run it
 * again (bench/rss.ts: 45 of 53 MiB after a warm start are file-backed; with them dropped, a
 * request and then a load map 31 and 39 MiB again). Dropping the process's mappings of those pages
 * gives the resident set back to what is used: the pages stay in the kernel's page cache, and those
 * still needed are mapped again on their next use (minor faults, no disk read while the page cache
 * keeps them).
 */
import { readFileSync, readlinkSync } from "node:fs";

/** madvise(2): the range's pages are dropped from the mapping; a private file mapping re-reads them from the file. */
const MADV_DONTNEED = 4;

type Madvise = (address: bigint, length: bigint, advice: number) => number;
let madvise: Madvise | null | undefined;

/** libc's madvise through bun:ffi, loaded on first use; null where it cannot be (not Linux, no glibc). */
async function loadMadvise(): Promise<Madvise | null> {
  if (madvise !== undefined) return madvise;
  madvise = null;
  if (process.platform !== "linux") return madvise;
  try {
    const { dlopen, FFIType } = await import("bun:ffi");
    const libc = dlopen("libc.so.6", { madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
    madvise = (address, length, advice) => libc.symbols.madvise(address, length, advice);
  } catch {
    // no libc.so.6 (musl) or no FFI: nothing is released, nothing else changes
  }
  return madvise;
}

/** A mapping of the executable, from /proc/self/smaps. */
interface Mapping {
  readonly start: bigint;
  readonly end: bigint;
  readonly permissions: string;
  readonly path: string;
  /** Pages of the mapping that are the process's own copies (written), kB. */
  anonymousKb: number;
}

/**
 * The executable's mappings that can be dropped and mapped again unchanged: read-only, private,
 * with no page of their own. Pages the process has written (e.g. JavaScriptCore's configuration,
 * written at start and then made read-only) exist nowhere else: a mapping holding any is left alone.
 */
export function releasableMappings(smaps: string, executable: string): Array<{ start: bigint; end: bigint }> {
  const mappings: Mapping[] = [];
  for (const line of smaps.split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      mappings.push({ start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), permissions: header[3]!, path: header[4]!, anonymousKb: 0 });
      continue;
    }
    const anonymous = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anonymous && mappings.length > 0) mappings[mappings.length - 1]!.anonymousKb += Number(anonymous[1]);
  }
  return mappings
    .filter((mapping) => mapping.path === executable && /^r-[x-]p$/.test(mapping.permissions) && mapping.anonymousKb === 0)
    .map(({ start, end }) => ({ start, end }));
}

/**
 * Drops this process's mappings of its executable's read-only pages (see the module comment).
 * Resolves the bytes advised, 0 where it cannot be done; never throws.
 */
export async function releaseExecutablePages(): Promise<number> {
  const advise = await loadMadvise();
  if (!advise) return 0;
  try {
    const executable = readlinkSync("/proc/self/exe");
    let released = 0n;
    for (const { start, end } of releasableMappings(readFileSync("/proc/self/smaps", "utf8"), executable)) {
      if (advise(start, end - start, MADV_DONTNEED) === 0) released += end - start;
    }
    return Number(released);
  } catch {
    return 0;
  }
}
