/**
 * bun-acme as a package, as a new user meets it: a fresh project outside the checkout adds it with
 * `bun add file:<checkout>`, and every `ts` code block of the README runs there, unchanged,
 * against a real Pebble (and type-checks with tsc when CI provides one: BUN_ACME_TSC).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startDnsServer, type DnsServer } from "../../src/dns/index.ts";
import { eventLines } from "../support/events.ts";
import { ROOT } from "../support/client.ts";
import { usePebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, bun add, the examples): allow more than the 5 s default.
setDefaultTimeout(60_000);

/** The `ts` examples users copy: the README's and the library guide's (docs/library.md). */
const README_BLOCKS = ["README.md", join("docs", "library.md")].flatMap((file) =>
  [...readFileSync(join(ROOT, file), "utf8").matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!));
const TSC = process.env.BUN_ACME_TSC;

async function run(command: string[], cwd: string, env: Record<string, string> = {}) {
  const child = Bun.spawn(command, { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

describe("the package in a fresh project", () => {
  const pebble = usePebble();
  let project = "";
  let dns: DnsServer | undefined;

  beforeAll(async () => {
    project = makeTempDir("bun-acme-consumer-");
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const added = await run([process.execPath, "add", `file:${ROOT}`], project);
    if (added.code !== 0) throw new Error(`bun add failed: ${added.stderr}`);
    README_BLOCKS.forEach((block, index) => writeFileSync(join(project, `example-${index + 1}.ts`), block));
    // Pebble resolves every name through 127.0.0.1:10053: answer A queries with loopback.
    dns = await startDnsServer({ hostname: "127.0.0.1", port: 10053, zone: { address: "127.0.0.1", txtValues: () => [] } });
  });
  afterAll(() => {
    dns?.stop();
    if (project) rmSync(project, { recursive: true, force: true });
  });

  test("the package resolves to this checkout's curated entry point", async () => {
    const resolved = await run([process.execPath, "-e", 'console.log(Bun.resolveSync("bun-acme", process.cwd()))'], project);
    expect(realpathSync(resolved.stdout.trim())).toBe(realpathSync(join(project, "node_modules", "bun-acme", "src", "index.ts")));
    const exported = await run([process.execPath, "-e", 'import("bun-acme").then((m) => console.log(Object.keys(m).sort().join(",")))'], project);
    const names = exported.stdout.trim().split(",");
    expect(names).toContain("issueCertificate");
    expect(names).toContain("startResponders");
    // Internals stay inside.
    for (const internal of ["tlv", "Tag", "NoncePool", "sleep", "parseLinks", "UsageError"]) expect(names).not.toContain(internal);
  });

  test("the command line comes along: the bun-acme bin and the bun-acme/cli export", async () => {
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
    const bin = await run([join(project, "node_modules", ".bin", "bun-acme"), "--version"], project);
    expect(bin.stdout).toBe(`bun-acme ${version}\n`);
    const cli = await run([process.execPath, "-e", 'import { main } from "bun-acme/cli"; process.exitCode = await main(["--dir"], { env: {}, out() {}, err: (line) => console.log(line) });'], project);
    expect(cli.stdout).toBe("bun-acme: error: option --dir needs a value (see --help)\n");
    expect(cli.code).toBe(2);
  });

  test("the published files are the sources, the README and the licence (npm pack)", async () => {
    const packed = await run(["npm", "pack", "--dry-run", "--json", "--ignore-scripts"], ROOT);
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
    expect(files).toContain("src/index.ts");
    expect(files).toContain("LICENSE");
    expect(files.filter((path) => !/^(src\/|README\.md$|LICENSE$|package\.json$)/.test(path))).toEqual([]);
  });

  test("the README has the library examples", () => {
    expect(README_BLOCKS.length).toBeGreaterThanOrEqual(2);
    for (const block of README_BLOCKS) expect(block).toContain('from "bun-acme"');
  });

  test.each(README_BLOCKS.map((_, index) => index + 1))("README example %d obtains a certificate from Pebble, run unchanged", async (number) => {
    const result = await run([process.execPath, "run", `example-${number}.ts`], project, {
      ACME_DIRECTORY: pebble().directoryUrl,
      ACME_CA_FILE: pebble().tlsRootFile,
      DOMAIN: `example${number}.package.test`,
      HTTP_PORT: "5002",
      HTTPS_PORT: "5001",
      ACME_STORE: makeTempDir("bun-acme-example-store-"),
      ACME_CACHE: makeTempDir("bun-acme-example-cache-"),
      EXAMPLE_ONCE: "1",
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^(2 certificates in the chain|issued https:\/\/127\.0\.0\.1:14000\/certZ\/\w+)\n$|^\{"event":"obtained",/);
    // The manage() examples print each event with eventLine(): lines of the one event type, the first the certificate obtained.
    if (result.stdout.startsWith("{")) expect(eventLines(result.stdout)[0]).toMatchObject({ type: "obtained", lineage: `example${number}.package.test` });
  });

  test.skipIf(!TSC)("the README examples type-check in the fresh project (strict tsc, from BUN_ACME_TSC)", async () => {
    writeFileSync(join(project, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        target: "ES2022", lib: ["ESNext", "DOM"], module: "Preserve", moduleResolution: "bundler", strict: true, noEmit: true,
        allowImportingTsExtensions: true, skipLibCheck: true, types: ["bun"], typeRoots: [join(ROOT, "node_modules", "@types")],
      },
      include: ["*.ts"],
    }));
    const checked = await run([TSC!, "-p", "."], project);
    expect(checked.stdout + checked.stderr).toBe("");
    expect(checked.code).toBe(0);
  });
});
