/**
 * Private keys from PEM: PKCS#8 (`BEGIN PRIVATE KEY`), SEC1 (`BEGIN EC PRIVATE KEY`) and PKCS#1
 * (`BEGIN RSA PRIVATE KEY`). WebCrypto imports only PKCS#8, so the other two are wrapped into a
 * PKCS#8 `PrivateKeyInfo` first, with the algorithm read from the key algorithm table.
 */
import { decodePemBlocks, type PemBlock } from "../encoding/index.ts";
import { keyAlgorithmOfOid, KEY_ALGORITHMS, type KeyAlgorithm } from "../jose/index.ts";
import { childrenOf, decodeDer, readObjectIdentifier, type DerNode } from "./decoder.ts";
import { integer, nullValue, objectIdentifier, octetString, sequence, Tag } from "./der.ts";
import { ContextTag } from "./oids.ts";

const LABELS = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"] as const;
const PRIVATE_MEMBERS = new Set(["d", "p", "q", "dp", "dq", "qi", "key_ops", "ext", "alg"]);

/**
 * Imports a private key PEM as a WebCrypto key pair (the public half derived from the private
 * key), usable to sign JWS (ES256, ES384, RS256, EdDSA), CSRs and certificates.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5958 (PKCS#8)
 * @see https://www.rfc-editor.org/rfc/rfc5915 (SEC1 EC private keys)
 * @see https://www.rfc-editor.org/rfc/rfc8017#appendix-A.1.2 (PKCS#1 RSA private keys)
 * @example const keyPair = await importPrivateKeyPem(await Bun.file("key.pem").text());
 * @throws {SyntaxError} when the text holds no private key PEM, or its DER is malformed
 * @throws {TypeError} for a key algorithm other than RSA, P-256, P-384 or Ed25519
 */
export async function importPrivateKeyPem(pem: string): Promise<CryptoKeyPair> {
  const block = findKeyBlock(pem);
  const { pkcs8, algorithm } = toPkcs8(block);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as Uint8Array<ArrayBuffer>, algorithm.importParams, true, ["sign"]);
  } catch (error) {
    throw new SyntaxError(`Cannot import private key: ${(error as Error).message}`);
  }
  const jwk = await crypto.subtle.exportKey("jwk", privateKey);
  // Typed by whichever lib the project has (DOM's JsonWebKey or node:crypto's), so no DOM name is needed here.
  const publicJwk: typeof jwk = Object.fromEntries(Object.entries(jwk).filter(([member]) => !PRIVATE_MEMBERS.has(member)));
  const publicKey = await crypto.subtle.importKey("jwk", publicJwk, algorithm.importParams, true, ["verify"]);
  return { privateKey, publicKey };
}

function findKeyBlock(pem: string): PemBlock {
  let blocks: PemBlock[] = [];
  try {
    blocks = decodePemBlocks(pem);
  } catch { /* reported below */ }
  if (blocks.some((block) => block.label === "ENCRYPTED PRIVATE KEY")) {
    throw new SyntaxError("Cannot import private key: it is encrypted; decrypt it first (openssl pkey -in FILE -out PLAIN)");
  }
  const block = blocks.find((candidate) => (LABELS as readonly string[]).includes(candidate.label));
  if (!block) throw new SyntaxError('Cannot import private key: no PEM block "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY"');
  return block;
}

/**
 * The PKCS#8 form of a key block and its algorithm.
 *
 * ```asn1
 * PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }
 * ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING, parameters [0] ECParameters OPTIONAL, publicKey [1] BIT STRING OPTIONAL }
 * ```
 */
function toPkcs8(block: PemBlock): { pkcs8: Uint8Array; algorithm: KeyAlgorithm } {
  const root = decodeOrThrow(block.der);
  if (block.label === "RSA PRIVATE KEY") {
    const rsa = KEY_ALGORITHMS.RS256;
    return { pkcs8: wrap(sequence(objectIdentifier(rsa.keyOid), nullValue()), block.der), algorithm: rsa };
  }
  if (block.label === "EC PRIVATE KEY") {
    const parameters = childrenOf(root, 2, "EC private key").find((part) => part.tag === ContextTag.explicit0);
    const curve = parameters?.children?.[0];
    if (!curve) throw new SyntaxError("Cannot import private key: the EC private key names no curve");
    const algorithm = keyAlgorithmOfOid(KEY_ALGORITHMS.ES256.keyOid, readObjectIdentifier(curve));
    return { pkcs8: wrap(sequence(objectIdentifier(algorithm.keyOid), objectIdentifier(algorithm.curveOid!)), block.der), algorithm };
  }
  const [, algorithmIdentifier] = childrenOf(root, 3, "PKCS#8 private key") as [DerNode, DerNode];
  const [oid, parameter] = childrenOf(algorithmIdentifier, 1, "private key algorithm");
  const curveOid = parameter?.tag === Tag.OBJECT_IDENTIFIER ? readObjectIdentifier(parameter) : undefined;
  return { pkcs8: block.der, algorithm: keyAlgorithmOfOid(readObjectIdentifier(oid!), curveOid) };
}

function wrap(algorithmIdentifier: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return sequence(integer(0), algorithmIdentifier, octetString(privateKey));
}

function decodeOrThrow(der: Uint8Array): DerNode {
  try {
    return decodeDer(der);
  } catch (error) {
    throw new SyntaxError(`Cannot import private key: ${(error as Error).message}`);
  }
}
