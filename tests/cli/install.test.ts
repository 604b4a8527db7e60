/**
 * project/install --prefix DIR, as a user without root runs it (the test drops to `nobody` when it
 * runs as root): the executable, the systemd units with ExecStart at the installed executable, the
 * example configuration; the installed units pass systemd's own verifier (skipped by name where
 * systemd-analyze is not installed).
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

// Copies a ~100 MiB executable (and builds it first when the sources are newer).
setDefaultTimeout(120_000);

const INSTALL = join(ROOT, "project", "install");
const hasVerifier = Bun.which("systemd-analyze") !== null;
const UNITS = ["bun-acme-renew.service", "bun-acme-renew.timer", "bun-acme-serve.service"];

/** Runs project/install; as `nobody` when the test runs as root, so that a need for root shows. */
function install(args: string[]) {
  const asUser = process.getuid?.() === 0 && Bun.which("setpriv") !== null ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  const run = Bun.spawnSync([...asUser, "bash", INSTALL, ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env } });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

describe("project/install --prefix DIR", () => {
  let prefix = "";
  let result: ReturnType<typeof install>;

  beforeAll(() => {
    const dir = makeTempDir("bun-acme-install-");
    chmodSync(dir, 0o777); // writable by the unprivileged user the install runs as
    prefix = join(dir, "opt");
    result = install(["--prefix", prefix]);
  });

  test("installs the executable to PREFIX/bin, runnable, without root", () => {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const executable = join(prefix, "bin", "bun-acme");
    expect(statSync(executable).mode & 0o777).toBe(0o755);
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
    expect(Bun.spawnSync([executable, "--version"]).stdout.toString()).toBe(`bun-acme ${version}\n`);
    expect(result.stdout).toContain(`installed bun-acme ${version} to ${executable}`);
  });

  test("installs the three units to PREFIX/lib/systemd/system with ExecStart at the installed executable", () => {
    const unitDir = join(prefix, "lib", "systemd", "system");
    expect(readdirSync(unitDir).sort()).toEqual([...UNITS].sort()); // no temporary file left behind
    const renew = readFileSync(join(unitDir, "bun-acme-renew.service"), "utf8");
    expect(renew).toMatch(new RegExp(`^ExecStart=${prefix}/bin/bun-acme renew --state /var/lib/bun-acme$`, "m"));
    const serve = readFileSync(join(unitDir, "bun-acme-serve.service"), "utf8");
    expect(serve).toMatch(new RegExp(`^ExecStart=${prefix}/bin/bun-acme serve --config ${prefix}/etc/bun-acme/serve.toml$`, "m"));
    expect(serve).not.toContain("/usr/local/bin/bun-acme");
    expect(readFileSync(join(unitDir, "bun-acme-renew.timer"), "utf8")).toBe(readFileSync(join(ROOT, "project", "bun-acme-renew.timer"), "utf8"));
    for (const unit of UNITS) expect(statSync(join(unitDir, unit)).mode & 0o777).toBe(0o644);
  });

  test("puts the example configuration in PREFIX/share/doc/bun-acme and writes no configuration", () => {
    const doc = join(prefix, "share", "doc", "bun-acme");
    expect(readFileSync(join(doc, "serve.example.toml"), "utf8")).toBe(readFileSync(join(ROOT, "project", "serve.example.toml"), "utf8"));
    expect(readFileSync(join(doc, "prometheus-alerts.yml"), "utf8")).toBe(readFileSync(join(ROOT, "project", "prometheus-alerts.yml"), "utf8"));
    expect(existsSync(join(prefix, "etc"))).toBe(false);
  });

  test.skipIf(!hasVerifier)("the installed units pass systemd-analyze verify (needs systemd-analyze)", () => {
    const unitDir = join(prefix, "lib", "systemd", "system");
    const verify = Bun.spawnSync(["systemd-analyze", "verify", ...UNITS.map((unit) => join(unitDir, unit))], { cwd: unitDir, stderr: "pipe" });
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("running it again replaces the files in place", () => {
    const again = install(["--prefix", prefix]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(readdirSync(join(prefix, "bin"))).toEqual(["bun-acme"]);
  });

  test.each([
    [["--prefx", "/tmp/x"], 'unknown argument "--prefx"'],
    [["--prefix"], "--prefix needs a folder"],
    [["--prefix", "/tmp/with space"], "--prefix must be an absolute folder"],
  ])("refuses %p with one line and exit 2, writing nothing", (args, message) => {
    const refused = install(args);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe("");
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toStartWith("project/install: error: ");
    expect(refused.stderr).toContain(message);
    expect(existsSync("/tmp/with space")).toBe(false);
  });
});
