/**
 * Reading certificates and CSRs made by openssl (an independent producer).
 */
import { describe, expect, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsr, decodeDer, DerError, readCertificate, readCsr } from "../../src/asn1/index.ts";
import { decodePem, toHex } from "../../src/encoding/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { openssl } from "../support/openssl.ts";
import { makeTempDir } from "../support/temp.ts";

describe("readCertificate()", () => {
  test("reads serial, names, validity and authority key identifier of an openssl certificate, as node:crypto does", async () => {
    const dir = makeTempDir("bun-acme-x509-");
    writeFileSync(join(dir, "ext"), "subjectAltName=DNS:a.test,DNS:*.b.test,IP:192.0.2.1,IP:2001:db8::1\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n");
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "root.key", "-out", "root.pem",
      "-days", "10", "-subj", "/CN=Test Root", "-addext", "subjectKeyIdentifier=hash"], dir);
    await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf.test"], dir);
    await openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "0x00ff112233", "-days", "10",
      "-out", "leaf.pem", "-extfile", "ext"], dir);
    const pem = readFileSync(join(dir, "leaf.pem"), "utf8");
    const info = readCertificate(decodePem(pem, "CERTIFICATE"));
    const reference = new X509Certificate(pem);
    expect(toHex(info.serialNumber)).toBe("00ff112233");
    expect(info.subjectCommonName).toBe("leaf.test");
    expect(info.issuerCommonName).toBe("Test Root");
    expect(info.dnsNames).toEqual(["a.test", "*.b.test"]);
    expect(info.ipAddresses).toEqual(["192.0.2.1", "2001:db8::1"]);
    expect(info.notAfter.getTime()).toBe(new Date(reference.validTo).getTime());
    expect(info.notBefore.getTime()).toBe(new Date(reference.validFrom).getTime());
    const skiText = Bun.spawnSync(["openssl", "x509", "-in", join(dir, "root.pem"), "-noout", "-ext", "subjectKeyIdentifier"]).stdout.toString();
    const rootSki = skiText.trim().split("\n").pop()!.trim().replace(/:/g, "").toLowerCase();
    expect(toHex(info.authorityKeyIdentifier!)).toBe(rootSki);
  });

  test("rejects bytes that are not DER", () => {
    expect(() => readCertificate(Uint8Array.of(0x30, 0x80, 0, 0))).toThrow(DerError);
    expect(() => readCertificate(Uint8Array.of(0x30, 0x05, 1))).toThrow(DerError);
    expect(() => decodeDer(Uint8Array.of(0x04, 0x81, 0x05, 1, 2, 3, 4, 5))).toThrow(/non-minimal/);
    expect(() => decodeDer(Uint8Array.of(0x04, 0x01, 0x00, 0x00))).toThrow(/trailing/);
  });

  test("rejects nesting deeper than 32", () => {
    let der = Uint8Array.of(0x05, 0x00);
    for (let i = 0; i < 40; i++) der = Uint8Array.of(0x30, der.length, ...der);
    expect(() => decodeDer(der)).toThrow(/deeply/);
  });
});

describe("readCsr()", () => {
  test("reads back the names of a CSR made by createCsr()", async () => {
    const keyPair = await generateKeyPair("ec256");
    const csr = await createCsr({ dnsNames: ["x.test", "*.x.test"], keyPair });
    const spki = new Uint8Array(await crypto.subtle.exportKey("spki", keyPair.publicKey));
    expect(readCsr(csr)).toEqual({ commonName: "x.test", dnsNames: ["x.test", "*.x.test"], ipAddresses: [], subjectPublicKeyInfo: spki });
  });

  test("reads the names of a CSR made by openssl", async () => {
    const dir = makeTempDir("bun-acme-csr-");
    await openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "r.csr", "-subj", "/CN=openssl.test",
      "-addext", "subjectAltName=DNS:openssl.test,DNS:www.openssl.test,IP:127.0.0.1"], dir);
    const info = readCsr(decodePem(readFileSync(join(dir, "r.csr"), "utf8"), "CERTIFICATE REQUEST"));
    expect(info).toMatchObject({ commonName: "openssl.test", dnsNames: ["openssl.test", "www.openssl.test"], ipAddresses: ["127.0.0.1"] });
  });
});
