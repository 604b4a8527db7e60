import { describe, expect, test } from "bun:test";
import { createPublicKey, verify } from "node:crypto";
import { decodeBase64Url, utf8Decode } from "../../src/encoding/index.ts";
import { exportPublicJwk, generateKeyPair, jwsAlgorithmOf, signJws, type KeyType } from "../../src/jose/index.ts";

const nodeParams: Record<string, { hash: string; dsaEncoding?: "ieee-p1363" }> = {
  ES256: { hash: "sha256", dsaEncoding: "ieee-p1363" },
  ES384: { hash: "sha384", dsaEncoding: "ieee-p1363" },
  RS256: { hash: "sha256" },
};

describe("signJws()", () => {
  test.each(["ec256", "ec384", "rsa2048"] as KeyType[])("a %s signature verifies with node:crypto", async (type) => {
    const keys = await generateKeyPair(type);
    const jwk = await exportPublicJwk(keys.publicKey);
    const jws = await signJws(keys.privateKey, { url: "https://ca.test/new-acct", nonce: "abc", jwk }, { termsOfServiceAgreed: true });
    const header = JSON.parse(utf8Decode(decodeBase64Url(jws.protected)));
    expect(header).toEqual({ alg: jwsAlgorithmOf(keys.privateKey), url: "https://ca.test/new-acct", nonce: "abc", jwk });
    expect(JSON.parse(utf8Decode(decodeBase64Url(jws.payload)))).toEqual({ termsOfServiceAgreed: true });
    const params = nodeParams[header.alg]!;
    const publicKey = createPublicKey({ key: jwk as never, format: "jwk" });
    const ok = verify(params.hash, Buffer.from(`${jws.protected}.${jws.payload}`), { key: publicKey, dsaEncoding: params.dsaEncoding }, Buffer.from(decodeBase64Url(jws.signature)));
    expect(ok).toBe(true);
  });

  test("an undefined payload gives the empty payload of POST-as-GET and a kid header", async () => {
    const keys = await generateKeyPair("ec256");
    const jws = await signJws(keys.privateKey, { url: "https://ca.test/order/1", nonce: "n", kid: "https://ca.test/acct/1" }, undefined);
    expect(jws.payload).toBe("");
    expect(JSON.parse(utf8Decode(decodeBase64Url(jws.protected)))).toEqual({ alg: "ES256", url: "https://ca.test/order/1", nonce: "n", kid: "https://ca.test/acct/1" });
  });

  test("a tampered payload no longer verifies", async () => {
    const keys = await generateKeyPair("ec256");
    const jwk = await exportPublicJwk(keys.publicKey);
    const jws = await signJws(keys.privateKey, { url: "u", nonce: "n", jwk }, { a: 1 });
    const tampered = `${jws.protected}.${jws.payload}x`;
    const ok = verify("sha256", Buffer.from(tampered), { key: createPublicKey({ key: jwk as never, format: "jwk" }), dsaEncoding: "ieee-p1363" }, Buffer.from(decodeBase64Url(jws.signature)));
    expect(ok).toBe(false);
  });
});
