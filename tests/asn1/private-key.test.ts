/**
 * importPrivateKeyPem() against keys written by openssl (an independent implementation) in the
 * three PEM forms, checked by signing with the import and verifying with the derived public key.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { importPrivateKeyPem } from "../../src/asn1/index.ts";
import { KEY_ALGORITHMS, keyAlgorithmOf } from "../../src/jose/index.ts";
import { openssl } from "../support/openssl.ts";
import { makeTempDir } from "../support/temp.ts";

async function key(args: string[], convert: string[] | undefined): Promise<string> {
  const dir = makeTempDir("keys");
  await openssl([...args, "-out", "key.pem"], dir);
  if (convert) await openssl([...convert, "-in", "key.pem", "-out", "converted.pem"], dir);
  return Bun.file(join(dir, convert ? "converted.pem" : "key.pem")).text();
}

describe("importPrivateKeyPem()", () => {
  test.each([
    ["PKCS#8 P-256", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], undefined, "ES256", "BEGIN PRIVATE KEY"],
    ["SEC1 P-384", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], ["ec"], "ES384", "BEGIN EC PRIVATE KEY"],
    ["PKCS#1 RSA-2048", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], ["rsa", "-traditional"], "RS256", "BEGIN RSA PRIVATE KEY"],
    ["PKCS#8 Ed25519", ["genpkey", "-algorithm", "ED25519"], undefined, "EdDSA", "BEGIN PRIVATE KEY"],
  ] as const)("%s", async (_name, generate, convert, jws, label) => {
    const pem = await key([...generate], convert ? [...convert] : undefined);
    expect(pem).toContain(label);
    const { privateKey, publicKey } = await importPrivateKeyPem(pem);
    const algorithm = keyAlgorithmOf(privateKey);
    expect(algorithm.jws).toBe(jws);
    const data = new TextEncoder().encode("signed by the imported key");
    const signature = await crypto.subtle.sign(KEY_ALGORITHMS[jws].signParams, privateKey, data);
    expect(await crypto.subtle.verify(KEY_ALGORITHMS[jws].signParams, publicKey, signature, data)).toBe(true);
  });

  test("refuses what is not a usable key, with built-in errors", async () => {
    await expect(importPrivateKeyPem("hello")).rejects.toThrow(SyntaxError);
    await expect(importPrivateKeyPem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n")).rejects.toThrow(/encrypted/);
    await expect(importPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")).rejects.toThrow(SyntaxError);
    const p521 = await key(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"], undefined);
    await expect(importPrivateKeyPem(p521)).rejects.toThrow(TypeError);
  });
});
