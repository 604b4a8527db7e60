/**
 * JOSE on WebCrypto: the key algorithm table, key generation, minimal public JWKs, RFC 7638
 * thumbprints, flattened JWS.
 * @module
 */
export {
  ACCOUNT_KEY_TYPES,
  KEY_ALGORITHMS,
  KEY_TYPES,
  keyAlgorithmOf,
  keyAlgorithmOfJwk,
  keyAlgorithmOfOid,
  type JwsAlgorithm,
  type KeyAlgorithm,
  type KeyType,
} from "./algorithms.ts";
export { exportPublicJwk, type PublicJwk } from "./jwk.ts";
export { signHmacJws, signJws, type AcmeProtectedHeader, type EabProtectedHeader, type FlattenedJws } from "./jws.ts";
export { exportPrivateKeyPem, generateKeyPair, jwsAlgorithmOf } from "./keys.ts";
export { jwkThumbprint } from "./thumbprint.ts";
