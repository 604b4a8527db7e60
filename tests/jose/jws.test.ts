import { describe, expect, test } from "bun:test";
import { createHmac, createPublicKey, verify } from "node:crypto";
import { decodeBase64Url, utf8Decode } from "../../src/encoding/index.ts";
import { exportPublicJwk, generateKeyPair, jwkThumbprint, jwsAlgorithmOf, signHmacJws, signJws, type KeyType } from "../../src/jose/index.ts";

const nodeParams: Record<string, { hash: string | null; dsaEncoding?: "ieee-p1363" }> = {
  ES256: { hash: "sha256", dsaEncoding: "ieee-p1363" },
  ES384: { hash: "sha384", dsaEncoding: "ieee-p1363" },
  RS256: { hash: "sha256" },
  EdDSA: { hash: null },
};

describe("signJws()", () => {
  test.each(["ec256", "ec384", "rsa2048", "ed25519"] as KeyType[])("a %s signature verifies with node:crypto", async (type) => {
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

describe("signHmacJws()", () => {
  test("an External Account Binding JWS is HS256 over the account JWK, checked with node:crypto's HMAC", async () => {
    const macKey = Uint8Array.from({ length: 32 }, (_, i) => i);
    const jwk = await exportPublicJwk((await generateKeyPair("ec256")).publicKey);
    const jws = await signHmacJws(macKey, { kid: "kid-1", url: "https://ca.test/new-account" }, jwk);
    expect(JSON.parse(utf8Decode(decodeBase64Url(jws.protected)))).toEqual({ alg: "HS256", kid: "kid-1", url: "https://ca.test/new-account" });
    expect(JSON.parse(utf8Decode(decodeBase64Url(jws.payload)))).toEqual(jwk);
    const expected = createHmac("sha256", macKey).update(`${jws.protected}.${jws.payload}`).digest("base64url");
    expect(jws.signature).toBe(expected);
  });

  test("refuses an empty MAC key", async () => {
    expect(signHmacJws(new Uint8Array(), { kid: "k", url: "u" }, {})).rejects.toThrow(RangeError);
  });
});

describe("Ed25519 JWKs", () => {
  test("export as OKP with only crv, kty, x, and thumbprint as RFC 8037 says", async () => {
    const jwk = await exportPublicJwk((await generateKeyPair("ed25519")).publicKey);
    expect(Object.keys(jwk).sort()).toEqual(["crv", "kty", "x"]);
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519" });
    expect(await jwkThumbprint(jwk)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test("the RFC 8037 Appendix A.3 thumbprint", async () => {
    const jwk = { kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" };
    expect(await jwkThumbprint(jwk)).toBe("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
  });
});
