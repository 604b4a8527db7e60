/**
 * maskSecrets() over what bun-acme prints (a table of lines with passwords where users put them),
 * and the command line's messages about a store URL it cannot parse or reach.
 */
import { describe, expect, test } from "bun:test";
import { maskSecrets } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";

const CASES: readonly [string, string][] = [
  ["redis://app:hunter2@10.0.0.5:6379/1", "redis://app:***@10.0.0.5:6379/1"],
  ["rediss://:hunter2@cache.internal:6380", "rediss://:***@cache.internal:6380"],
  ["postgres://acme:hunter2@db:5432/acme?sslmode=require&password=hunter2", "postgres://acme:***@db:5432/acme?sslmode=require&password=***"],
  ["postgres://db/acme?sslpassword=hunter2&user=acme", "postgres://db/acme?sslpassword=***&user=acme"],
  ["redis://db?token=hunter2&api_key=hunter2&Auth=hunter2", "redis://db?token=***&api_key=***&Auth=***"],
  ['--store "redis://app:hun@ter/2@host:1" is not a URL', '--store "redis://app:***@host:1" is not a URL'],
  ["Cannot reach the Redis store redis://u:p%40ss@h:1/bun-acme: (ECONNREFUSED)", "Cannot reach the Redis store redis://u:***@h:1/bun-acme: (ECONNREFUSED)"],
  ["--tsig hmac-sha256:acme-key:c2VjcmV0LXRzaWc= failed", "--tsig hmac-sha256:acme-key:*** failed"],
  ["https://acme-v02.api.letsencrypt.org/directory", "https://acme-v02.api.letsencrypt.org/directory"],
  ["redis://10.0.0.5:6379 and postgres://db/acme?sslmode=require", "redis://10.0.0.5:6379 and postgres://db/acme?sslmode=require"],
];

describe("maskSecrets()", () => {
  for (const [line, masked] of CASES) {
    test(`masks ${JSON.stringify(line)}`, () => {
      expect(maskSecrets(line)).toBe(masked);
    });
  }
});

describe("the command line never prints a store's password", () => {
  test("a URL that does not parse: one line, the password masked", async () => {
    const result = await runClient(["certificates", "--store", "redis://app:hunter2@[bad:1"]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain("hunter2");
    expect(result.stderr.trim()).toStartWith('bun-acme: error: --store "redis://app:***@[bad:1" is not a URL');
  });

  test("a store that cannot be reached: userinfo and ?password= masked", async () => {
    const result = await runClient(["certificates", "--store", "redis://app:hunter2@127.0.0.1:9/?password=hunter3"]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain("hunter");
    expect(result.stderr).toContain("redis://app:***@127.0.0.1:9/?password=***");
  });
});
