import { describe, expect, test } from "bun:test";
import { createHash, createPublicKey } from "node:crypto";
import { exportPublicJwk, generateKeyPair, jwkThumbprint } from "../../src/jose/index.ts";

describe("jwkThumbprint()", () => {
  test("matches the RFC 7638 §3.1 example", async () => {
    const jwk = {
      kty: "RSA",
      n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
      e: "AQAB",
      alg: "RS256",
      kid: "2011-04-29",
    };
    expect(await jwkThumbprint(jwk)).toBe("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  });

  test("of a generated EC key equals SHA-256 of the canonical JSON computed with node:crypto", async () => {
    const { publicKey } = await generateKeyPair("ec256");
    const jwk = await exportPublicJwk(publicKey);
    expect(Object.keys(jwk).sort()).toEqual(["crv", "kty", "x", "y"]);
    const nodeJwk = createPublicKey({ key: jwk as never, format: "jwk" }).export({ format: "jwk" }) as Record<string, string>;
    const canonical = JSON.stringify({ crv: nodeJwk.crv, kty: nodeJwk.kty, x: nodeJwk.x, y: nodeJwk.y });
    expect(await jwkThumbprint(jwk)).toBe(createHash("sha256").update(canonical).digest("base64url"));
  });

  test("throws a TypeError naming a missing member", async () => {
    expect(jwkThumbprint({ kty: "EC", crv: "P-256", x: "AA" })).rejects.toThrow(/"y" Parameter/);
    expect(jwkThumbprint({ kty: "oct" })).rejects.toThrow(TypeError);
  });
});
