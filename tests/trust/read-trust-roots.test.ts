import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { readTrustRoots, TrustRootsError } from "../../src/trust/index.ts";
import { makeTlsMaterial } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

describe("readTrustRoots()", () => {
  test("returns the PEM text of a file that holds a certificate", async () => {
    const material = await makeTlsMaterial();
    expect(readTrustRoots(material.rootFile)).toBe(material.rootPem);
  });

  test("refuses a file without a certificate, naming it, with ERR_TRUST_ROOTS", () => {
    const dir = makeTempDir("bun-acme-trust-");
    const path = join(dir, "key-only.pem");
    writeFileSync(path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    const error = (() => { try { readTrustRoots(path); } catch (caught) { return caught; } })();
    expect(error).toBeInstanceOf(TrustRootsError);
    expect((error as TrustRootsError).code).toBe("ERR_TRUST_ROOTS");
    expect((error as TrustRootsError).message).toBe(`the CA root file ${path} holds no PEM certificate`);
  });

  test("names the file system's error code for a file it cannot read", () => {
    const dir = makeTempDir("bun-acme-trust-");
    expect(() => readTrustRoots(join(dir, "missing.pem"))).toThrow(`cannot read the CA root file ${join(dir, "missing.pem")}: ENOENT`);
    expect(() => readTrustRoots(dir)).toThrow(`cannot read the CA root file ${dir}: EISDIR`);
  });
});
