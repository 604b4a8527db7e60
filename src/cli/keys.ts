/**
 * Reading private keys from PEM files: PKCS#8 (`BEGIN PRIVATE KEY`), SEC1 (`BEGIN EC PRIVATE KEY`)
 * and PKCS#1 (`BEGIN RSA PRIVATE KEY`). WebCrypto imports only PKCS#8, so the others are converted
 * with node:crypto first; this file is part of the command line's edge.
 */
import { createPrivateKey } from "node:crypto";
import { decodePem, decodePemBlocks } from "../encoding/index.ts";
import { UsageError } from "./args.ts";

const LABELS = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"] as const;

/**
 * Imports a private key PEM as a WebCrypto key pair (the public half derived from the private
 * key's JWK), for signing JWS (ES256, ES384, RS256, EdDSA) and CSRs.
 *
 * @throws {UsageError} naming the file when it holds no supported private key
 */
export async function importPrivateKeyPem(pem: string, source: string): Promise<CryptoKeyPair> {
  let label: (typeof LABELS)[number] | undefined;
  try {
    label = LABELS.find((candidate) => decodePemBlocks(pem).some((block) => block.label === candidate));
  } catch { /* reported below */ }
  if (!label) throw new UsageError(`${source} holds no private key PEM (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY")`);
  let pkcs8: Uint8Array;
  let jwk: JsonWebKey;
  try {
    const keyObject = createPrivateKey(pem);
    pkcs8 = label === "PRIVATE KEY" ? decodePem(pem, label) : new Uint8Array(keyObject.export({ format: "der", type: "pkcs8" }));
    jwk = keyObject.export({ format: "jwk" }) as JsonWebKey;
  } catch (error) {
    throw new UsageError(`${source}: cannot read the private key (${(error as Error).message.split("\n")[0]})`);
  }
  const algorithm = importAlgorithm(jwk, source);
  const privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as Uint8Array<ArrayBuffer>, algorithm, true, ["sign"]);
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]);
  return { privateKey, publicKey };
}

function importAlgorithm(jwk: JsonWebKey, source: string): RsaHashedImportParams | EcKeyImportParams | Algorithm {
  if (jwk.kty === "RSA") return { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  if (jwk.kty === "EC" && (jwk.crv === "P-256" || jwk.crv === "P-384")) return { name: "ECDSA", namedCurve: jwk.crv };
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return { name: "Ed25519" };
  throw new UsageError(`${source}: unsupported key (${jwk.kty} ${jwk.crv ?? ""}); use RSA, P-256, P-384 or Ed25519`);
}
