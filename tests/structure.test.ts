/**
 * The layout rules of ../shared/STYLE.md, checked on the import graph of src/: no import cycle,
 * a folder reaches another only through its index.ts face, and the codecs import nothing above them.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./support/client.ts";

const SRC = join(ROOT, "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : []
  );
}

/** Every relative import (type-only ones included: a cycle of types is still a cycle for a reader). */
const graph = new Map(sourceFiles(SRC).map((file) => {
  const text = readFileSync(file, "utf8");
  const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)].map((match) => resolve(dirname(file), match[1]!));
  return [file, targets.filter((target) => target.startsWith(SRC))] as const;
}));

const folderOf = (file: string) => relative(SRC, file).split("/")[0]!;

describe("the import graph of src/", () => {
  test("has no cycle", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "visiting") return void cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f)).join(" → "));
      state.set(file, "visiting");
      for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
      state.set(file, "done");
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  test("a folder imports another only through its index.ts", () => {
    const violations = [...graph].flatMap(([file, targets]) =>
      targets.filter((target) => folderOf(target) !== folderOf(file) && !target.endsWith("/index.ts") && !target.endsWith("package.json"))
        .map((target) => `${relative(SRC, file)} → ${relative(SRC, target)}`)
    );
    expect(violations).toEqual([]);
  });

  test("the codecs import nothing above them", () => {
    const allowed: Record<string, readonly string[]> = { encoding: [], jose: ["encoding"], asn1: ["encoding", "jose"] };
    const violations = [...graph].flatMap(([file, targets]) => {
      const folder = folderOf(file);
      if (!(folder in allowed)) return [];
      return targets.map(folderOf).filter((target) => target !== folder && !allowed[folder]!.includes(target)).map((target) => `${relative(SRC, file)} → ${target}`);
    });
    expect(violations).toEqual([]);
  });
});
