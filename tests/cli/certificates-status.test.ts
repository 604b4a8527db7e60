/**
 * `certificates` marks what is wrong with a stored certificate as certbot does: EXPIRED, INVALID
 * (key does not match the certificate), INVALID (the chain does not verify). Certificates made
 * here with createSelfSignedCertificate (dates chosen), and a lineage from the FAKE CA
 * (tests/support/fake-ca.ts behind Bun.serve) whose key is then swapped.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSelfSignedCertificate } from "../../src/asn1/index.ts";
import { lineageProblems } from "../../src/cli/certificates.ts";
import { encodePem } from "../../src/encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../../src/jose/index.ts";
import type { StoredLineage } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(30_000);

const DAY = 86_400_000;
const NOW = Date.parse("2026-06-01T00:00:00Z");

async function certificate(keyPair: CryptoKeyPair, notBefore: number, notAfter: number, commonName = "status.test"): Promise<string> {
  return encodePem("CERTIFICATE", await createSelfSignedCertificate({ commonName, keyPair, extensions: [], notBefore: new Date(notBefore), notAfter: new Date(notAfter) }));
}

async function stored(chainPem: string, keyPair: CryptoKeyPair): Promise<StoredLineage> {
  return { chainPem, keyPem: await exportPrivateKeyPem(keyPair.privateKey), config: {} as StoredLineage["config"], meta: {} as StoredLineage["meta"] };
}

describe("lineageProblems()", () => {
  test("a valid certificate with its key: none", async () => {
    const keys = await generateKeyPair("ec256");
    expect(await lineageProblems(await stored(await certificate(keys, NOW - DAY, NOW + DAY), keys), NOW)).toEqual([]);
  });

  test("past notAfter: EXPIRED", async () => {
    const keys = await generateKeyPair("ec256");
    expect(await lineageProblems(await stored(await certificate(keys, NOW - 2 * DAY, NOW - DAY), keys), NOW)).toEqual(["EXPIRED"]);
  });

  test("another key: INVALID (key does not match the certificate)", async () => {
    const keys = await generateKeyPair("ec256");
    const other = await generateKeyPair("ec256");
    expect(await lineageProblems(await stored(await certificate(keys, NOW - DAY, NOW + DAY), other), NOW)).toEqual(["INVALID (key does not match the certificate)"]);
  });

  test("a chain certificate that did not sign the leaf: INVALID (the chain does not verify)", async () => {
    const keys = await generateKeyPair("ec256");
    const stranger = await certificate(await generateKeyPair("ec256"), NOW - DAY, NOW + DAY, "stranger");
    expect(await lineageProblems(await stored(`${await certificate(keys, NOW - DAY, NOW + DAY)}${stranger}`, keys), NOW)).toEqual(["INVALID (the chain does not verify)"]);
  });
});

test("certificates marks a lineage whose privkey.pem was replaced: text and --json", async () => {
  const served = serveFakeCa();
  try {
    const state = makeTempDir("bun-acme-status-");
    const name = "status.fake.test";
    const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", name, "--bind", "127.0.0.1", "--http-port", "20002", "--state", state]);
    expect(obtained.code).toBe(0);
    const fine = await runClient(["certificates", "--state", state]);
    expect(fine.stdout).not.toContain("INVALID");
    expect(JSON.parse((await runClient(["certificates", "--state", state, "--json"])).stdout).status).toBeUndefined();
    writeFileSync(join(state, "certificates", name, "privkey.pem"), await exportPrivateKeyPem((await generateKeyPair("ec256")).privateKey), { mode: 0o600 });
    const listed = await runClient(["certificates", "--state", state]);
    expect(listed.stdout).toMatch(new RegExp(`^${name}: ${name}; serial \\w+, expires \\S+, next renewal \\S+; INVALID \\(key does not match the certificate\\); ${join(state, "certificates", name)}\\n$`));
    const json = JSON.parse((await runClient(["certificates", "--state", state, "--json"])).stdout);
    expect(json.status).toBe("invalid");
    expect(json.problems).toEqual(["INVALID (key does not match the certificate)"]);
  } finally {
    await served.stop();
  }
});
