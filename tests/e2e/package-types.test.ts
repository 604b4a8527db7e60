/**
 * The package's types in the project a new user has: `bun init -y` (its tsconfig: `lib: ["ESNext"]`, no DOM,
 * `strict`, `noUncheckedIndexedAccess`), then `bun add file:<checkout>`, then every `ts` block of the README pasted
 * unchanged. The project's own check (`bun run typecheck`) and CI's tsc (BUN_ACME_TSC) on the project's own tsconfig
 * must report nothing: the sources inside node_modules/bun-acme are checked there too (they are `.ts`).
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

// bun init installs @types/bun and typescript; a type check of ~100 files takes a few seconds.
setDefaultTimeout(120_000);

const README_BLOCKS = [...readFileSync(join(ROOT, "README.md"), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
const TSC = process.env.BUN_ACME_TSC;

async function run(command: string[], cwd: string) {
  const child = Bun.spawn(command, { cwd, env: { ...process.env, NO_COLOR: "1" }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Strips JSON-with-comments down to JSON: `bun init` writes a commented tsconfig. */
function parseJsonc(text: string): Record<string, unknown> {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, "").replace(/,(\s*[}\]])/g, "$1")) as Record<string, unknown>;
}

describe("the package in a default `bun init` project", () => {
  let project = "";

  beforeAll(async () => {
    project = makeTempDir("bun-acme-bun-init-");
    const init = await run([process.execPath, "init", "-y"], project);
    if (init.code !== 0) throw new Error(`bun init failed: ${init.stderr}`);
    const added = await run([process.execPath, "add", `file:${ROOT}`], project);
    if (added.code !== 0) throw new Error(`bun add failed: ${added.stderr}`);
    README_BLOCKS.forEach((block, index) => writeFileSync(join(project, `example-${index + 1}.ts`), block));
  });

  test("bun init writes the configuration this test is about (ESNext without DOM, noUncheckedIndexedAccess)", () => {
    const options = parseJsonc(readFileSync(join(project, "tsconfig.json"), "utf8")).compilerOptions as Record<string, unknown>;
    expect(options.lib).toEqual(["ESNext"]);
    expect(options.strict).toBe(true);
    expect(options.noUncheckedIndexedAccess).toBe(true);
    expect(README_BLOCKS.some((block) => block.includes("manage("))).toBe(true);
  });

  test("the project's own `bun run typecheck` passes with the README examples pasted", async () => {
    const scripts = (JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
    expect(scripts.typecheck).toBeDefined();
    const checked = await run([process.execPath, "run", "typecheck"], project);
    expect((checked.stdout + checked.stderr).split("\n").filter((line) => /error TS\d+|node_modules\/bun-acme/.test(line))).toEqual([]);
    expect(checked.code).toBe(0);
  });

  test.skipIf(!TSC)("CI's tsc (BUN_ACME_TSC) passes on the project's own tsconfig", async () => {
    const checked = await run([TSC!, "-p", ".", "--noEmit"], project);
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
  });
});
