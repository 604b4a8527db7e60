/**
 * `certificates` marks what is wrong with a stored certificate as certbot does: EXPIRED, INVALID
 * (key does not match the certificate), INVALID (the chain does not verify). Certificates made
 * here with createSelfSignedCertificate (dates chosen), and a lineage from the FAKE CA
 * (tests/support/fake-ca.ts behind Bun.serve) whose key is then swapped. `certificates --json`
 * also gives each certificate's issuer and renewal schedule, for cron users: checked against a
 * real Pebble, and for an ARI window (which Pebble 2.4.0 does not offer) against the FAKE CA.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSelfSignedCertificate, readCertificate } from "../../src/asn1/index.ts";
import { lineageProblems } from "../../src/cli/certificates.ts";
import { decodePem, encodePem } from "../../src/encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../../src/jose/index.ts";
import type { StoredLineage } from "../../src/store/index.ts";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import { usePebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
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

describe("certificates --json: issuer and renewal schedule, against a real Pebble", () => {
  const pebble = usePebble();
  useLoopbackResolver();

  test("each lineage carries the CA's directory URL, the issuing certificate's name, next_renewal from the schedule, and due", async () => {
    const state = makeTempDir("bun-acme-status-pebble-");
    const name = "schedule.status.test";
    const obtained = await runClient(["certonly", "--dir", pebble().directoryUrl, "--ca", pebble().tlsRootFile, "--domain", name,
      "--bind", "127.0.0.1", "--http-port", "5002", "--state", state]);
    expect(obtained.code).toBe(0);
    const metaFile = join(state, "certificates", name, "metadata.json");
    const meta = JSON.parse(readFileSync(metaFile, "utf8"));
    const intermediate = readCertificate(decodePem(await (await pebble().management("/intermediates/0")).text(), "CERTIFICATE"));

    const listed = JSON.parse((await runClient(["certificates", "--state", state, "--json"])).stdout);
    expect(listed).toMatchObject({ event: "lineage", lineage: name, names: [name], serial: meta.serial, not_after: meta.notAfter });
    expect(listed.ca).toBe(pebble().directoryUrl);
    expect(listed.issuer_name).toBe(intermediate.subjectCommonName);
    expect(listed.issuer_name).toMatch(/^Pebble Intermediate CA [0-9a-f]+$/);
    // Without ARI (Pebble has none) the schedule renews when a third of the validity is left.
    const notBefore = Date.parse(meta.notBefore);
    const notAfter = Date.parse(listed.not_after);
    expect(listed.next_renewal).toBe(meta.nextRenewal);
    expect(Math.abs(Date.parse(listed.next_renewal) - (notBefore + (2 / 3) * (notAfter - notBefore)))).toBeLessThan(2_000);
    expect(listed.renewal_source).toBe("lifetime");
    expect(listed.due).toBe(false);

    // Its time come (as if the schedule had passed): due, as renew would find it.
    writeFileSync(metaFile, JSON.stringify({ ...meta, nextRenewal: new Date(Date.now() - 60_000).toISOString() }));
    expect(JSON.parse((await runClient(["certificates", "--state", state, "--json"])).stdout).due).toBe(true);
  });
});

test("certificates --json carries the ARI schedule when the CA gave one: renewal_source renewalInfo, ari_retry_at (FAKE CA)", async () => {
  const start = new Date(Date.now() + 86_400_000).toISOString();
  const end = new Date(Date.now() + 2 * 86_400_000).toISOString();
  const served = serveFakeCa({ renewalInfo: { start, end } });
  try {
    const state = makeTempDir("bun-acme-status-ari-");
    const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", "ari.status.fake.test", "--bind", "127.0.0.1",
      "--http-port", "20002", "--state", state]);
    expect(obtained.code).toBe(0);
    const listed = JSON.parse((await runClient(["certificates", "--state", state, "--json"])).stdout);
    expect(listed.renewal_source).toBe("renewalInfo");
    expect(Date.parse(listed.next_renewal)).toBeGreaterThanOrEqual(Date.parse(start));
    expect(Date.parse(listed.next_renewal)).toBeLessThanOrEqual(Date.parse(end));
    expect(Date.parse(listed.ari_retry_at)).toBeGreaterThan(Date.now());
    expect(listed.ca).toBe(served.directoryUrl);
    expect(listed.due).toBe(false);
  } finally {
    await served.stop();
  }
});
