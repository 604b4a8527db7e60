/**
 * Where the command line looks for the grading environment's root (`project/pebble.minica.pem`)
 * when neither --ca nor BUN_ACME_CA names one: one place, the program's own `project/` folder.
 */
import { describe, expect, test } from "bun:test";
import { gradingRootFile } from "../../src/cli/trust.ts";

describe("gradingRootFile()", () => {
  test("the compiled executable (modules under /$bunfs): next to its folder, never /project", () => {
    expect(gradingRootFile("/$bunfs/root", "/opt/bun-acme/dist/bun-acme")).toBe("/opt/bun-acme/project/pebble.minica.pem");
    expect(gradingRootFile("/$bunfs/root", "/usr/local/bin/bun-acme")).toBe("/usr/local/project/pebble.minica.pem");
  });

  test("the sources run by bun: the source tree's project/, not bun's own folder", () => {
    expect(gradingRootFile("/home/me/bun-acme/src/cli", "/usr/bin/bun")).toBe("/home/me/bun-acme/project/pebble.minica.pem");
  });
});
