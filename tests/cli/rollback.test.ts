/**
 * The file store's archive and `rollback`, through the command line against the FAKE CA
 * (tests/support/fake-ca.ts behind Bun.serve): every renewal archives the certificate it replaces
 * (the newest five kept, keys 0600), and rollback makes one current again, archiving the current.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const serialOf = (state: string) => (JSON.parse(readFileSync(join(state, "certificates", "roll.fake.test", "metadata.json"), "utf8")) as { serial: string }).serial;

describe("the archive and rollback", () => {
  test("renewals archive what they replace (five kept); rollback brings the newest archived back, and can itself be rolled back", async () => {
    const served = serveFakeCa();
    const state = makeTempDir("bun-acme-rollback-");
    try {
      const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", "roll.fake.test", "--bind", "127.0.0.1",
        "--http-port", "20002", "--state", state]);
      expect(obtained.code).toBe(0);
      const serials = [serialOf(state)];
      for (let round = 0; round < 6; round++) {
        const renewed = await runClient(["renew", "--force", "--state", state]);
        expect(renewed.code).toBe(0);
        serials.push(serialOf(state));
      }
      const archive = join(state, "archive", "roll.fake.test");
      // Six replaced, the oldest one dropped: the five before the current one.
      expect(readdirSync(archive).sort()).toEqual(serials.slice(1, 6).sort());
      expect(statSync(join(archive, serials[5]!, "privkey.pem")).mode & 0o777).toBe(0o600);
      expect(statSync(archive).mode & 0o777).toBe(0o700);

      const back = await runClient(["rollback", "--cert-name", "roll.fake.test", "--state", state]);
      expect(back.stderr).toBe("");
      expect(back.code).toBe(0);
      expect(serialOf(state)).toBe(serials[5]!);
      expect(back.stdout).toContain(`roll.fake.test: serial ${serials[5]} (expires `);
      // The key and chain came back with it: the pair as archived.
      expect(readFileSync(join(state, "certificates", "roll.fake.test", "privkey.pem"), "utf8")).toBe(readFileSync(join(archive, serials[5]!, "privkey.pem"), "utf8"));
      expect(readFileSync(join(state, "certificates", "roll.fake.test", "fullchain.pem"), "utf8")).toBe(readFileSync(join(archive, serials[5]!, "fullchain.pem"), "utf8"));
      expect(readdirSync(archive)).toContain(serials[6]!); // the one rolled back from is archived

      const forward = await runClient(["rollback", "--cert-name", "roll.fake.test", "--to", serials[6]!, "--state", state]);
      expect(forward.code).toBe(0);
      expect(serialOf(state)).toBe(serials[6]!);

      const certificates = await runClient(["certificates", "--state", state]);
      expect(certificates.code).toBe(0);
      expect(certificates.stdout).not.toContain("INVALID");
    } finally {
      await served.stop();
    }
  });

  test("an unknown serial: one line listing what is archived, exit 1; a shared store: a usage error, exit 2", async () => {
    const served = serveFakeCa();
    const state = makeTempDir("bun-acme-rollback-none-");
    try {
      expect((await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", "roll.fake.test", "--bind", "127.0.0.1",
        "--http-port", "20002", "--state", state])).code).toBe(0);
      const nothing = await runClient(["rollback", "--cert-name", "roll.fake.test", "--state", state]);
      expect(nothing.stderr.trim()).toBe("bun-acme: error: Lineage roll.fake.test has nothing archived yet: a certificate is archived when a renewal replaces it");
      expect(nothing.code).toBe(1);
      expect((await runClient(["renew", "--force", "--state", state])).code).toBe(0);
      const unknown = await runClient(["rollback", "--cert-name", "roll.fake.test", "--to", "ABC", "--state", state]);
      expect(unknown.stderr.trim()).toMatch(/^bun-acme: error: Lineage roll\.fake\.test has no archived certificate ABC \(archived: [0-9A-F]+\)$/);
      expect(unknown.code).toBe(1);
      const shared = await runClient(["rollback", "--cert-name", "roll.fake.test", "--store", "redis://127.0.0.1:1"]);
      expect(shared.code).toBe(2);
      expect(shared.stderr.trim()).toBe("bun-acme: error: rollback works on a file store (--state DIR): shared stores keep no archive (see --help)");
    } finally {
      await served.stop();
    }
  });
});
