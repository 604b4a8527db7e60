/**
 * `.ci/skipped-tests`, which `.ci/run` uses to fail CI when a test it is expected to run skips: it names every skipped
 * test of a real `bun test` junit report (skip, skipIf, todo; nested describes; XML-escaped names) and leaves out
 * exactly those in the allowlist.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(30_000);

const SCRIPT = join(ROOT, ".ci", "skipped-tests");
const FIXTURE = `import { describe, expect, test } from "bun:test";
describe("outer <a> & \\"b\\"", () => {
  describe("inner", () => {
    test.skip("skipped (skipped: a reason: with a colon)", () => {});
    test("runs", () => expect(1).toBe(1));
  });
  test.skipIf(true)("skipped by a condition", () => {});
  test.todo("not written yet");
});
test("top level runs", () => expect(2).toBe(2));
`;

function skippedTests(report: string, allowed?: string) {
  const child = Bun.spawnSync(["bash", SCRIPT, report, ...(allowed ? [allowed] : [])], { stdout: "pipe", stderr: "pipe" });
  return { code: child.exitCode, lines: child.stdout.toString().split("\n").filter(Boolean), stderr: child.stderr.toString() };
}

describe(".ci/skipped-tests", () => {
  let dir = "";
  let report = "";

  beforeAll(() => {
    dir = makeTempDir("bun-acme-ci-skips-");
    writeFileSync(join(dir, "fixture.test.ts"), FIXTURE);
    report = join(dir, "junit.xml");
    Bun.spawnSync([process.execPath, "test", "--reporter=junit", `--reporter-outfile=${report}`, "./fixture.test.ts"], { cwd: dir, stdout: "ignore", stderr: "ignore" });
  });

  test("names every skipped test as FILE > DESCRIBE > ... > TEST, and no test that ran", () => {
    expect(skippedTests(report)).toEqual({
      code: 0,
      lines: [
        'fixture.test.ts > outer <a> & "b" > inner > skipped (skipped: a reason: with a colon)',
        'fixture.test.ts > outer <a> & "b" > skipped by a condition',
        'fixture.test.ts > outer <a> & "b" > not written yet',
      ],
      stderr: "",
    });
  });

  test("leaves out exactly the allowed ones; comments and blank lines in the allowlist are ignored", () => {
    const allowed = join(dir, "allowed");
    writeFileSync(allowed, '# why\n\nfixture.test.ts > outer <a> & "b" > skipped by a condition\nfixture.test.ts > outer <a> & "b" > not written\n');
    expect(skippedTests(report, allowed).lines).toEqual([
      'fixture.test.ts > outer <a> & "b" > inner > skipped (skipped: a reason: with a colon)',
      'fixture.test.ts > outer <a> & "b" > not written yet',
    ]);
  });

  test("an unreadable report is an error, not an empty list", () => {
    const result = skippedTests(join(dir, "missing.xml"));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("cannot read the junit report");
  });

  test("the allowlist holds only the two step-ca 0.19 capability skips of the conformance test", () => {
    const entries = readFileSync(join(ROOT, ".ci", "allowed-skips"), "utf8").split("\n").filter((line) => line.trim() && !line.startsWith("#"));
    expect(entries).toHaveLength(2);
    for (const entry of entries) expect(entry).toStartWith("tests/e2e/conformance.test.ts > against step-ca 0.19 > ");
  });
});
