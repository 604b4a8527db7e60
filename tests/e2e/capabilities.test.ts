/**
 * Capabilities beyond the core flow, end to end through the command line against real Pebbles:
 * key types, External Account Binding, revocation reasons, the revoke and renewal-info commands.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { createPublicKey, X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { requestShutdown, runClient, SERVING_LINE, startClient } from "../support/client.ts";
import { usePebble, type Pebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

function issueArgs(pebble: Pebble, out: string, domains: string[], extra: string[] = []): string[] {
  return ["http01", "--dir", pebble.directoryUrl, "--record", "127.0.0.1", ...domains.flatMap((d) => ["--domain", d]), "--ca", pebble.tlsRootFile,
    "--bind", "127.0.0.1", "--out", out, ...extra];
}

/** Runs the client until it serves, then shuts it down; returns exit code and output. */
async function issue(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const client = startClient(args);
  try {
    const served = await Promise.race([
      client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 45_000).then(() => true, () => false),
      client.exited.then(() => false),
    ]);
    if (served) await requestShutdown();
    const code = await client.exited;
    await Promise.all([client.stdout.done, client.stderr.done]);
    return { code, stdout: client.stdout.text(), stderr: client.stderr.text() };
  } finally {
    client.kill();
  }
}

async function certStatus(pebble: Pebble, certificatePem: string): Promise<{ Status: string; Reason?: number }> {
  const serial = new X509Certificate(certificatePem).serialNumber.toLowerCase();
  return (await pebble.management(`/cert-status-by-serial/${serial}`)).json() as Promise<{ Status: string; Reason?: number }>;
}

describe("key types against Pebble", () => {
  const pebble = usePebble();

  test.each([
    ["ec384", "ec384", "ec", "P-384"],
    ["rsa3072", "rsa3072", "rsa", "3072"],
    ["rsa4096", "rsa4096", "rsa", "4096"],
  ])("account key %s, certificate key %s", async (accountKeyType, keyType, expectedType, expectedDetail) => {
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, [`${accountKeyType}.keys.test`], ["--account-key-type", accountKeyType, "--key-type", keyType]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const key = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).publicKey;
    expect(String(key.asymmetricKeyType)).toBe(expectedType);
    const details = key.asymmetricKeyDetails as { namedCurve?: string; modulusLength?: number };
    expect(String(details.namedCurve === "secp384r1" ? "P-384" : details.namedCurve === "prime256v1" ? "P-256" : details.modulusLength)).toBe(expectedDetail);
  });
});

describe("Ed25519 account keys against Pebble", () => {
  const pebble = usePebble();

  test("Pebble 2.4.0 refuses EdDSA account keys; the CA's badPublicKey is shown whole", async () => {
    const result = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["ed.keys.test"], ["--account-key-type", "ed25519"]));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `bun-acme: error: The CA refused the request to ${pebble().directoryUrl.replace("/dir", "/sign-me-up")}: badPublicKey: no signature algorithms suitable for given key type: ed25519.PublicKey`,
    );
  });
});

describe("IP identifiers (RFC 8738) against Pebble", () => {
  const pebble = usePebble();

  test("--domain 127.0.0.1 with http01: an ip identifier, validated by Pebble at 127.0.0.1:5002, an iPAddress SAN", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, ["127.0.0.1", "ip-and-name.test"]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).subjectAltName).toBe("DNS:ip-and-name.test, IP Address:127.0.0.1");
  });
});

describe("tls-alpn-01 (RFC 8737) against Pebble", () => {
  const pebble = usePebble();

  test.each([["tls01", ["alpn.example.test", "www.alpn.example.test"]], ["tls-alpn01", ["127.0.0.1"]]])(
    "%s for %p: Pebble validates on port 5001, which then serves the certificate",
    async (challenge, names) => {
      const out = makeTempDir("bun-acme-out-");
      const args = issueArgs(pebble(), out, names);
      args[0] = challenge;
      const result = await issue(args);
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("every authorization valid (tls-alpn-01)");
      const sans = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).subjectAltName!;
      for (const name of names) expect(sans).toContain(name);
    },
  );
});

describe("revocation", () => {
  const pebble = usePebble();

  test("--revoke --revoke-reason keyCompromise: Pebble records reason 1", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, ["reason.revoke.test"], ["--revoke", "--revoke-reason", "keyCompromise"]));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Certificate revoked with reason 1");
    const status = await certStatus(pebble(), readFileSync(join(out, "cert.pem"), "utf8"));
    expect(status.Status).toBe("Revoked");
    expect(status.Reason).toBe(1);
  });

  test("the revoke command signs with the certificate's own key; a second revocation is reported as already revoked", async () => {
    const out = makeTempDir("bun-acme-out-");
    expect((await issue(issueArgs(pebble(), out, ["standalone.revoke.test"]))).code).toBe(0);
    const revokeArgs = ["revoke", "--dir", pebble().directoryUrl, "--cert", join(out, "cert.pem"), "--cert-key", join(out, "key.pem"), "--ca", pebble().tlsRootFile,
      "--reason", "superseded"];
    const first = await runClient(revokeArgs);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toContain("revoked (reason 4)");
    const status = await certStatus(pebble(), readFileSync(join(out, "cert.pem"), "utf8"));
    expect(status).toMatchObject({ Status: "Revoked", Reason: 4 });
    const second = await runClient(revokeArgs);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("was already revoked (the CA says:");
  });

  test("the revoke command refuses a key that is not the certificate's, with the CA's words", async () => {
    const out = makeTempDir("bun-acme-out-");
    const other = makeTempDir("bun-acme-out-");
    expect((await issue(issueArgs(pebble(), out, ["mine.revoke.test"]))).code).toBe(0);
    expect((await issue(issueArgs(pebble(), other, ["other.revoke.test"]))).code).toBe(0);
    const result = await runClient(["revoke", "--dir", pebble().directoryUrl, "--cert", join(out, "cert.pem"), "--cert-key", join(other, "key.pem"),
      "--ca", pebble().tlsRootFile]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("unauthorized");
  });

  test("renewal-info falls back to 2/3 of the validity period when the directory has no renewalInfo (Pebble 2.4.0)", async () => {
    const out = makeTempDir("bun-acme-out-");
    expect((await issue(issueArgs(pebble(), out, ["ari.revoke.test"]))).code).toBe(0);
    const result = await runClient(["renewal-info", "--cert", join(out, "cert.pem"), "--dir", pebble().directoryUrl, "--ca", pebble().tlsRootFile]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("2/3 of the validity period (the CA's directory offers no renewalInfo)");
    const certificate = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8"));
    const from = new Date(certificate.validFrom).getTime();
    const to = new Date(certificate.validTo).getTime();
    const expected = new Date(from + ((to - from) * 2) / 3).toISOString();
    expect(result.stdout).toContain(`Renew at ${expected}`);
    const json = await runClient(["renewal-info", "--cert", join(out, "cert.pem"), "--json"]);
    expect(JSON.parse(json.stdout)).toEqual({
      event: "renewal_info", time: expect.any(String), certificate: join(out, "cert.pem"), not_before: new Date(from).toISOString(), not_after: new Date(to).toISOString(),
      renew_at: expected, source: "lifetime",
    });
  });
});

describe("External Account Binding (Pebble with externalAccountBindingRequired)", () => {
  const macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
  const pebble = usePebble({ config: { externalAccountBindingRequired: true, externalAccountMACKeys: { "kid-1": macKey } } });

  test("without EAB the CA's externalAccountRequired is shown with the flags to use", async () => {
    const result = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["noeab.eab.test"]));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("externalAccountRequired");
    expect(result.stderr).toContain("--eab-kid and --eab-hmac-key");
  });

  test("with the CA's kid and MAC key the account is created and the certificate issued", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, ["eab.eab.test"], ["--eab-kid", "kid-1", "--eab-hmac-key", macKey]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
  });

  test("a wrong MAC key is refused with the CA's words", async () => {
    const wrong = `${macKey.slice(0, -4)}AAAA`;
    const result = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["wrong.eab.test"], ["--eab-kid", "kid-1", "--eab-hmac-key", wrong]));
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/unauthorized|malformed/);
  });
});

describe("accounts that persist (--state) and keys and CSRs brought from elsewhere", () => {
  const pebble = usePebble();

  const accountLine = (stdout: string) => /^Account (\S+)/m.exec(stdout)?.[1];

  test("--state keeps the account: the second run reuses it; account --contact, --rollover and --deactivate act on it", async () => {
    const state = makeTempDir("bun-acme-state-");
    const first = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["state1.acct.test"], ["--state", state]));
    expect(first.code).toBe(0);
    const url = accountLine(first.stdout)!;
    expect(url).toContain("/my-account/");
    expect(statSync(join(state, "account-key.pem")).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(state, "account.json"), "utf8")).accountUrl).toBe(url);

    const second = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["state2.acct.test"], ["--state", state]));
    expect(second.code).toBe(0);
    expect(accountLine(second.stdout)).toBe(url);
    expect(second.stdout).toContain(`(reused from ${state})`);

    const accountArgs = ["account", "--dir", pebble().directoryUrl, "--state", state, "--ca", pebble().tlsRootFile];
    const contact = await runClient([...accountArgs, "--contact", "mailto:ops@example.test"]);
    expect(contact.code).toBe(0);
    expect(contact.stdout).toContain("Status: valid; contacts: mailto:ops@example.test");

    const keyBefore = readFileSync(join(state, "account-key.pem"), "utf8");
    const rollover = await runClient([...accountArgs, "--rollover"]);
    expect(rollover.stderr).toBe("");
    expect(rollover.code).toBe(0);
    expect(rollover.stdout).toContain("Account key rolled over");
    expect(readFileSync(join(state, "account-key.pem"), "utf8")).not.toBe(keyBefore);
    const afterRollover = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["rolled.acct.test"], ["--state", state]));
    expect(afterRollover.code).toBe(0);
    expect(accountLine(afterRollover.stdout)).toBe(url); // same account, new key

    const deactivate = await runClient([...accountArgs, "--deactivate"]);
    expect(deactivate.code).toBe(0);
    expect(deactivate.stdout).toContain("Status: deactivated");
    const refused = await issue(issueArgs(pebble(), makeTempDir("bun-acme-out-"), ["after.acct.test"], ["--state", state]));
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toMatch(/unauthorized|deactivated/i);
  });

  test("--account-key (SEC1 EC) and --cert-key (PKCS#1 RSA) made by openssl are used as given", async () => {
    const dir = makeTempDir("bun-acme-keys-");
    Bun.spawnSync(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, "account.pem")]);
    Bun.spawnSync(["openssl", "genrsa", "-traditional", "-out", join(dir, "cert.pem"), "2048"]);
    expect(readFileSync(join(dir, "account.pem"), "utf8")).toContain("BEGIN EC PRIVATE KEY");
    expect(readFileSync(join(dir, "cert.pem"), "utf8")).toContain("BEGIN RSA PRIVATE KEY");
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, ["byo.keys.test"], ["--account-key", join(dir, "account.pem"), "--cert-key", join(dir, "cert.pem")]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const issuedKey = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).publicKey.export({ format: "jwk" });
    const givenKey = createPublicKey(readFileSync(join(dir, "cert.pem"), "utf8")).export({ format: "jwk" });
    expect(issuedKey).toEqual(givenKey);
  });

  test("--csr made by openssl: its names become the order's identifiers", async () => {
    const dir = makeTempDir("bun-acme-csr-");
    Bun.spawnSync(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "req.csr"),
      "-subj", "/CN=csr.byo.test", "-addext", "subjectAltName=DNS:csr.byo.test,DNS:www.csr.byo.test"]);
    const out = makeTempDir("bun-acme-out-");
    const args = issueArgs(pebble(), out, [], ["--csr", join(dir, "req.csr"), "--cert-key", join(dir, "key.pem")]);
    const result = await issue(args);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).subjectAltName).toBe("DNS:csr.byo.test, DNS:www.csr.byo.test");
  });
});

describe("alternate chains (PEBBLE_ALTERNATE_ROOTS=2, PEBBLE_CHAIN_LENGTH=3)", () => {
  const pebble = usePebble({ env: { PEBBLE_ALTERNATE_ROOTS: "2", PEBBLE_CHAIN_LENGTH: "3" } });

  const rootName = async (index: number) => new X509Certificate(await (await pebble().management(`/roots/${index}`)).text()).subject.replace(/^CN=/, "");
  const topIssuer = (chainPem: string) => {
    const certificates = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)!;
    return new X509Certificate(certificates.at(-1)!).issuer.replace(/^CN=/, "");
  };

  test.each([1, 2])("--preferred-chain naming root %d takes the alternate chain that ends at it", async (index) => {
    const wanted = await rootName(index);
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, [`alt${index}.chain.test`], ["--preferred-chain", wanted]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const chain = readFileSync(join(out, "cert.pem"), "utf8");
    expect(topIssuer(chain)).toBe(wanted);
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(4); // the leaf and the intermediates Pebble makes for PEBBLE_CHAIN_LENGTH=3
  });

  test("without --preferred-chain, or with a name no chain has, the default chain (root 0) is kept", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await issue(issueArgs(pebble(), out, ["default.chain.test"], ["--preferred-chain", "No Such Root"]));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('No chain is issued by "No Such Root"');
    expect(topIssuer(readFileSync(join(out, "cert.pem"), "utf8"))).toBe(await rootName(0));
  });
});
