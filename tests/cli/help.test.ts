/**
 * The store commands' help tells the truth: every flag they take is listed, in their own words
 * where they use it differently from the ETH command (--out, the ports, --ca).
 */
import { describe, expect, test } from "bun:test";
import { certificatesCommand } from "../../src/cli/certificates.ts";
import { certonlyCommand } from "../../src/cli/certonly.ts";
import { usage } from "../../src/cli/main.ts";
import { renewCommand } from "../../src/cli/renew.ts";
import type { Command } from "../../src/cli/command.ts";

describe("help of the store commands", () => {
  for (const command of [certonlyCommand, renewCommand, certificatesCommand] as Command<never>[]) {
    test(`${command.name} --help lists every flag it takes`, () => {
      const text = usage(command);
      for (const flag of command.flags) expect(text).toMatch(new RegExp(`^  ${flag}\\b`, "m"));
    });
  }

  test("certonly --help says what --out gets: cert.pem (the leaf), chain.pem, fullchain.pem, privkey.pem; its ports default to 80/443/53", () => {
    const text = usage(certonlyCommand as Command<never>);
    const out = text.split("\n").find((line) => line.startsWith("  --out"))!;
    expect(out).toContain("cert.pem (the leaf), chain.pem, fullchain.pem, privkey.pem (0600)");
    expect(out).not.toMatch(/\bkey\.pem/);
    expect(out).not.toContain("full chain");
    expect(text).toMatch(/^  --http-port N\s+the built-in http-01 server \(default: 80\)$/m);
    expect(text).not.toContain("5002");
  });
});
