/**
 * ExecDnsSolver (`--dns-hook`) with a real sh: what the command sees of our environment. Its
 * records reaching a real BIND through nsupdate are in tests/e2e/rfc2136.test.ts.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExecDnsSolver } from "../../src/challenges/index.ts";
import { makeTempDir } from "../support/temp.ts";

test("a --dns-hook command keeps the provider's credentials from the environment, never BUN_ACME_STORE_KEY", async () => {
  const dir = makeTempDir("bun-acme-dns-hook-");
  process.env.BUN_ACME_STORE_KEY = "c2VjcmV0LXN0b3JlLWtleS1vZi0zMi1ieXRlcy4uLi4=";
  process.env.CF_API_TOKEN = "provider-token";
  try {
    const solver = new ExecDnsSolver(`env > ${join(dir, "env")}; true`);
    await solver.present({ type: "dns", value: "a.test" }, { type: "dns-01", url: "https://ca.test/c", token: "t", status: "pending" }, "t.thumb");
    const seen = readFileSync(join(dir, "env"), "utf8");
    expect(seen).toContain("CF_API_TOKEN=provider-token");
    expect(seen).not.toContain("BUN_ACME_STORE_KEY");
  } finally {
    delete process.env.BUN_ACME_STORE_KEY;
    delete process.env.CF_API_TOKEN;
  }
});
