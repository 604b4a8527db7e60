import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createCsr } from "../../src/asn1/index.ts";
import { encodePem } from "../../src/encoding/index.ts";
import { generateKeyPair, type KeyType } from "../../src/jose/index.ts";
import { makeTempDir } from "../support/temp.ts";

/** Runs `openssl req -verify -text` on a CSR: an independent parser and signature check. */
async function opensslReq(der: Uint8Array): Promise<{ code: number; text: string }> {
  const file = join(makeTempDir("bun-acme-csr-"), "csr.pem");
  writeFileSync(file, encodePem("CERTIFICATE REQUEST", der));
  const child = Bun.spawn(["openssl", "req", "-in", file, "-verify", "-noout", "-text"], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, text: stdout + stderr };
}

describe("createCsr()", () => {
  test.each(["ec256", "ec384", "rsa2048"] as KeyType[])("a %s CSR passes openssl req -verify and its SANs read back", async (type) => {
    const names = ["example.test", "*.example.test", "www.example.test"];
    const result = await opensslReq(await createCsr({ dnsNames: names, keyPair: await generateKeyPair(type) }));
    expect(result.code).toBe(0);
    expect(result.text).toContain("verify OK");
    expect(result.text).toContain("DNS:example.test, DNS:*.example.test, DNS:www.example.test");
    expect(result.text).toContain("Subject: CN = example.test");
  });

  test("a first name longer than 64 characters leaves the subject empty; the SAN still carries it", async () => {
    const long = `${"a".repeat(63)}.${"b".repeat(10)}.test`;
    const result = await opensslReq(await createCsr({ dnsNames: [long], keyPair: await generateKeyPair("ec256") }));
    expect(result.code).toBe(0);
    expect(result.text).not.toContain("CN =");
    expect(result.text).toContain(`DNS:${long}`);
  });

  test("a signature made with another key fails openssl's check", async () => {
    const keyPair = await generateKeyPair("ec256");
    const other = await generateKeyPair("ec256");
    const csr = await createCsr({ dnsNames: ["a.test"], keyPair: { publicKey: keyPair.publicKey, privateKey: other.privateKey } });
    const result = await opensslReq(csr);
    expect(result.text).not.toContain("verify OK");
  });

  test("IP addresses become iPAddress SANs (RFC 8738 §3) that openssl reads back; IP-only CSRs have an empty subject", async () => {
    const result = await opensslReq(await createCsr({
      dnsNames: [],
      ipAddresses: [Uint8Array.of(127, 0, 0, 1), Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1)],
      keyPair: await generateKeyPair("ec256"),
    }));
    expect(result.code).toBe(0);
    expect(result.text).toContain("IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1");
    expect(result.text).not.toContain("CN =");
  });

  test("rejects an empty name list", async () => {
    expect(createCsr({ dnsNames: [], keyPair: await generateKeyPair("ec256") })).rejects.toThrow(RangeError);
  });
});
