import { describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeFilesAtomic } from "../../src/store/index.ts";
import { makeTempDir } from "../support/temp.ts";

describe("writeFileAtomic()", () => {
  test("creates a private key file with mode 0600 and leaves no temporary file", () => {
    const dir = makeTempDir("bun-acme-files-");
    writeFileAtomic(join(dir, "sub", "key.pem"), "secret", 0o600);
    expect(statSync(join(dir, "sub", "key.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, "sub", "key.pem"), "utf8")).toBe("secret");
    expect(readdirSync(join(dir, "sub"))).toEqual(["key.pem"]);
  });

  test("replaces an existing file whole", () => {
    const dir = makeTempDir("bun-acme-files-");
    const path = join(dir, "cert.pem");
    writeFileSync(path, "old contents that are longer");
    writeFileAtomic(path, "new", 0o644);
    expect(readFileSync(path, "utf8")).toBe("new");
  });

  test("a target that is a directory fails and nothing is left behind", () => {
    const dir = makeTempDir("bun-acme-files-");
    const target = join(dir, "cert.pem");
    mkdirSync(join(target, "inside"), { recursive: true });
    expect(() => writeFileAtomic(target, "x", 0o644)).toThrow();
    expect(statSync(target).isDirectory()).toBe(true);
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  test("writeFilesAtomic(): when one file cannot be written, none of the targets changes", () => {
    const dir = makeTempDir("bun-acme-files-");
    writeFileSync(join(dir, "key.pem"), "old key");
    mkdirSync(join(dir, "cert.pem", "inside"), { recursive: true }); // cannot become a file
    expect(() =>
      writeFilesAtomic([
        { path: join(dir, "key.pem"), data: "new key", mode: 0o600 },
        { path: join(dir, "cert.pem"), data: "new cert", mode: 0o644 },
      ])
    ).toThrow();
    expect(readFileSync(join(dir, "key.pem"), "utf8")).toBe("old key");
    expect(readdirSync(dir).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });
});
