/**
 * writeFileAtomic() replaces a file, it does not rewrite it in place: checked without a tmpfs mount (the ENOSPC tests
 * need one and skip without it). A reader that has the file open keeps the whole old file, a write that fails partway
 * in another process (RLIMIT_FSIZE of 64 KiB: EFBIG, Bun ignoring SIGXFSZ) leaves the old file whole, and a reader in
 * another process polling the file through many rewrites only ever sees one complete version.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/store/index.ts";
import { ROOT } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const ATOMIC_FILES = join(ROOT, "src", "store", "index.ts");

/** `size` bytes of `letter`, ending in a line that says how long the file is, so a partial copy is recognisable. */
function version(letter: string, size: number): string {
  const trailer = `\nend of ${letter} ${size}\n`;
  return letter.repeat(size - trailer.length) + trailer;
}

function readThroughDescriptor(fd: number, size: number): string {
  const buffer = Buffer.alloc(size + 1);
  let read = 0;
  for (let got = 1; got > 0 && read < buffer.length; read += got) got = readSync(fd, buffer, read, buffer.length - read, read);
  return buffer.subarray(0, read).toString();
}

describe("writeFileAtomic() replaces, never rewrites in place", () => {
  test("a reader that opened the file before the rewrite still reads the whole old file; the path gets a new inode", () => {
    const path = join(makeTempDir("bun-acme-atomic-"), "cert.pem");
    const old = version("A", 64 * 1024);
    writeFileAtomic(path, old, 0o644);
    const inodeBefore = statSync(path).ino;
    const fd = openSync(path, "r");
    try {
      writeFileAtomic(path, version("B", 1024), 0o644);
      expect(readThroughDescriptor(fd, old.length)).toBe(old);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(path, "utf8")).toBe(version("B", 1024));
    expect(statSync(path).ino).not.toBe(inodeBefore);
  });

  test("a write that fails partway (file size limit 64 KiB in the writing process) leaves the old file whole, mode kept, no temporary file", async () => {
    const dir = makeTempDir("bun-acme-atomic-crash-");
    const path = join(dir, "key.pem");
    const old = version("A", 16 * 1024);
    writeFileSync(path, old, { mode: 0o600 });
    const script = `import { writeFileAtomic } from ${JSON.stringify(ATOMIC_FILES)};
writeFileAtomic(${JSON.stringify(path)}, "B".repeat(1024 * 1024), 0o600);
console.log("written");`;
    writeFileSync(join(dir, "writer.ts"), script);
    // ulimit -f counts 1 KiB blocks: past 64 KiB write() fails with EFBIG (or SIGXFSZ ends the process where not ignored).
    const child = Bun.spawn(["bash", "-c", `ulimit -f 64 && exec "$0" run writer.ts`, process.execPath], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(stdout).not.toContain("written");
    expect(code === 0 && child.signalCode === null).toBe(false);
    if (child.signalCode === null) expect(stderr).toContain("EFBIG");
    expect(readFileSync(path, "utf8")).toBe(old);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(["key.pem", "writer.ts"]);
  });

  test("a reader in another process polling through 40 rewrites sees only whole versions, never an empty or partial file", async () => {
    const dir = makeTempDir("bun-acme-atomic-readers-");
    const path = join(dir, "fullchain.pem");
    const stop = join(dir, "stop");
    const versions = [version("A", 2 * 1024 * 1024), version("B", 1024 * 1024 + 7)];
    writeFileAtomic(path, versions[0]!, 0o644);
    // The reader: reads the file as fast as it can until told to stop; counts reads and reads that are no whole version.
    writeFileSync(join(dir, "reader.ts"), `import { existsSync, readFileSync } from "node:fs";
const whole = new Set(${JSON.stringify(versions.map((text) => `${text.length}:${text.slice(-24)}`))});
let reads = 0, torn = 0, example = "";
console.log("ready");
while (!existsSync(${JSON.stringify(stop)})) {
  let text = "";
  try { text = readFileSync(${JSON.stringify(path)}, "utf8"); } catch (error) { text = "error " + error.code; }
  reads++;
  if (!whole.has(text.length + ":" + text.slice(-24)) || (text[0] !== "A" && text[0] !== "B")) { torn++; example ||= text.length + " bytes: " + text.slice(-24); }
}
console.log(JSON.stringify({ reads, torn, example }));
`);
    const reader = Bun.spawn([process.execPath, "run", join(dir, "reader.ts")], { stdout: "pipe", stderr: "inherit" });
    const lines = reader.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    while (!output.includes("ready\n")) {
      const { value, done } = await lines.read();
      if (done) throw new Error(`the reader stopped: ${output}`);
      output += value;
    }
    for (let i = 1; i <= 40; i++) {
      writeFileAtomic(path, versions[i % 2]!, 0o644);
      await Bun.sleep(0); // let the reader's pipe drain; the reader itself runs in its own process
    }
    writeFileSync(stop, "");
    for (;;) {
      const { value, done } = await lines.read();
      if (done) break;
      output += value;
    }
    await reader.exited;
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as { reads: number; torn: number; example: string };
    expect(result.reads).toBeGreaterThan(40);
    expect({ torn: result.torn, example: result.example }).toEqual({ torn: 0, example: "" });
    expect(existsSync(path)).toBe(true);
  });
});
