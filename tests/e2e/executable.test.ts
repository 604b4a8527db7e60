/**
 * The standalone executable from `bun build --compile`, and `project/run` from another working
 * directory, each obtaining a certificate from a real Pebble.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requestShutdown, ROOT, SERVING_LINE, startClient, type ClientProcess } from "../support/client.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

let pebble: Pebble;
let buildDir: string;
let executable: string;

beforeAll(async () => {
  buildDir = makeTempDir("bun-acme-build-");
  executable = join(buildDir, "bun-acme");
  // As project/compile builds it (project/build), to another file.
  const build = Bun.spawn(["bash", join(ROOT, "project", "build"), executable], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()]);
  if (code !== 0) throw new Error(`bun build --compile failed: ${stderr}`);
  pebble = await startPebble();
});
afterAll(async () => {
  await pebble?.stop();
  rmSync(buildDir, { recursive: true, force: true });
});

async function serveAndStop(client: ClientProcess): Promise<number> {
  try {
    await client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 45_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${client.stdout.text()}${client.stderr.text()}`);
    });
    expect((await requestShutdown()).status).toBe(200);
    return await client.exited;
  } finally {
    client.kill();
  }
}

function args(out: string, domain: string): string[] {
  return ["http01", "--dir", pebble.directoryUrl, "--record", "127.0.0.1", "--domain", domain, "--ca", pebble.tlsRootFile,
    "--bind", "127.0.0.1", "--out", out];
}

test("the compiled executable obtains and serves a certificate", async () => {
  const out = makeTempDir("bun-acme-out-");
  const code = await serveAndStop(startClient(args(out, "compiled.example.test"), { executable, cwd: buildDir }));
  expect(code).toBe(0);
  expect(new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).subjectAltName).toBe("DNS:compiled.example.test");
});

test("the compiled executable reads no bunfig.toml (its preload would run) or .env from the directory it is run in", async () => {
  const cwd = makeTempDir("bun-acme-hostile-cwd-");
  const marker = join(cwd, "preload-ran");
  writeFileSync(join(cwd, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(cwd, ".env"), "BUN_ACME_CA=/nonexistent/from-dotenv.pem\n");
  const store = makeTempDir("bun-acme-empty-store-");
  const { BUN_ACME_CA: _unset, ...env } = process.env;
  const run = Bun.spawnSync([executable, "certificates", "--store", store], { cwd, env, stdout: "pipe", stderr: "pipe" });
  expect(run.stderr.toString()).not.toContain("from-dotenv");
  expect(run.exitCode).toBe(0);
  expect(existsSync(marker)).toBe(false);
});

test("project/run without the executable (the sources through bun run) reads no bunfig.toml, .env or tsconfig.json from the directory it is run in", async () => {
  // A checkout without dist/: project/run falls back to `bun run src/main.ts`.
  const checkout = makeTempDir("bun-acme-no-dist-");
  for (const entry of ["src", "project", "bunfig.toml", "package.json", "tsconfig.json"]) cpSync(join(ROOT, entry), join(checkout, entry), { recursive: true });
  const cwd = makeTempDir("bun-acme-hostile-cwd-");
  const marker = join(cwd, "code-ran");
  writeFileSync(join(cwd, "evil.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\n`);
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
  writeFileSync(join(cwd, "tsconfig.json"), JSON.stringify({ compilerOptions: { paths: { "*": ["./evil.ts"] } } }));
  writeFileSync(join(cwd, ".env"), "BUN_ACME_CA=/nonexistent/from-dotenv.pem\n");
  const { BUN_ACME_CA: _unset, ...env } = process.env;
  const run = Bun.spawnSync(["bash", join(checkout, "project", "run"), "certificates", "--store", makeTempDir("bun-acme-empty-store-")], { cwd, env, stdout: "pipe", stderr: "pipe" });
  expect(run.stderr.toString()).not.toContain("from-dotenv");
  expect(run.stdout.toString()).toContain("No certificates");
  expect(run.exitCode).toBe(0);
  expect(existsSync(marker)).toBe(false);
});

test("project/run works from another working directory, relative --out landing there", async () => {
  const cwd = makeTempDir("bun-acme-cwd-");
  const code = await serveAndStop(startClient(args("issued", "run.example.test"), { executable: join(ROOT, "project", "run"), cwd }));
  expect(code).toBe(0);
  expect(new X509Certificate(readFileSync(join(cwd, "issued", "cert.pem"), "utf8")).subjectAltName).toBe("DNS:run.example.test");
});
