/**
 * The standalone executable from `bun build --compile`, and `project/run` from another working
 * directory, each obtaining a certificate from a real Pebble.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
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
  // As project/compile builds it: with the bytecode cache (which needs ESM output: main.ts awaits at top level).
  const build = Bun.spawn([process.execPath, "build", "--compile", "--minify", "--bytecode", "--format=esm", join(ROOT, "src", "main.ts"), "--outfile", executable], {
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

test("project/run works from another working directory, relative --out landing there", async () => {
  const cwd = makeTempDir("bun-acme-cwd-");
  const code = await serveAndStop(startClient(args("issued", "run.example.test"), { executable: join(ROOT, "project", "run"), cwd }));
  expect(code).toBe(0);
  expect(new X509Certificate(readFileSync(join(cwd, "issued", "cert.pem"), "utf8")).subjectAltName).toBe("DNS:run.example.test");
});
