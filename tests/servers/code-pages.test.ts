/**
 * Dropping the executable's read-only pages (src/servers/code-pages.ts): which mappings qualify,
 * read from smaps text as the kernel writes it, and the real call in this process (bun's own
 * executable), which must keep running unchanged afterwards. How much RSS it gives back is
 * bench/rss.ts's business.
 */
import { expect, test } from "bun:test";
import { readlinkSync } from "node:fs";
import { releasableMappings, releaseExecutablePages } from "../../src/servers/code-pages.ts";

const EXE = "/usr/local/bin/bun-acme";

/** One smaps entry: header and the fields the reader uses (others as the kernel prints them). */
const entry = (range: string, permissions: string, path: string, anonymousKb: number) =>
  `${range} ${permissions} 00000000 08:01 1234                       ${path}\nSize:               1024 kB\nRss:                 512 kB\nAnonymous:          ${String(anonymousKb).padStart(4)} kB\nVmFlags: rd mr mw me\n`;

test("releasableMappings() picks the executable's read-only private mappings that hold no page of their own", () => {
  const smaps = [
    entry("00200000-01a39000", "r--p", EXE, 0), // headers and read-only data
    entry("01a40000-0684a000", "r-xp", EXE, 0), // code
    entry("0684a000-0685f000", "rw-p", EXE, 4), // data: written
    entry("0685f000-06867000", "r--p", EXE, 32), // written at start, then made read-only (JavaScriptCore's configuration)
    entry("06867000-06a23000", "rw-p", EXE, 0), // writable: whatever it holds may be written later
    entry("7f0418790000-7f04187c0000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", 0), // another file
    entry("7f0418900000-7f0418a00000", "rw-p", "", 512), // anonymous memory
    entry("7f0418a00000-7f0418b00000", "r--s", EXE, 0), // shared
  ].join("");
  expect(releasableMappings(smaps, EXE)).toEqual([
    { start: 0x200000n, end: 0x1a39000n },
    { start: 0x1a40000n, end: 0x684a000n },
  ]);
});

test("releasableMappings() takes nothing from smaps without the executable, or from a path that only starts like it", () => {
  expect(releasableMappings("", EXE)).toEqual([]);
  expect(releasableMappings(entry("00200000-01a39000", "r-xp", `${EXE}-old`, 0), EXE)).toEqual([]);
});

test("releaseExecutablePages() advises this process's own executable, and the process runs on unchanged", async () => {
  const released = await releaseExecutablePages();
  expect(readlinkSync("/proc/self/exe")).toContain("bun");
  expect(released).toBeGreaterThan(1024 * 1024); // bun's code and read-only data: tens of MiB of address space
  // Code that ran before (JSON, crypto, a regular expression) runs again from the pages mapped anew.
  expect(JSON.parse(JSON.stringify({ a: [1, 2] }))).toEqual({ a: [1, 2] });
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abc")));
  expect(Buffer.from(digest).toString("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  expect(/^(\d+)-(\d+)$/.exec("12-34")?.slice(1)).toEqual(["12", "34"]);
  expect(await releaseExecutablePages()).toBe(released); // again: the same mappings, still fine
});
