/**
 * JOSE on WebCrypto: key generation, minimal public JWKs, RFC 7638 thumbprints, flattened JWS.
 * @module
 */
export { exportPublicJwk, type PublicJwk } from "./jwk.ts";
export { signHmacJws, signJws, type AcmeProtectedHeader, type EabProtectedHeader, type FlattenedJws } from "./jws.ts";
export {
  ACCOUNT_KEY_TYPES,
  exportPrivateKeyPem,
  generateKeyPair,
  jwsAlgorithmOf,
  KEY_TYPES,
  signParamsOf,
  type JwsAlgorithm,
  type KeyType,
} from "./keys.ts";
export { jwkThumbprint } from "./thumbprint.ts";
