/**
 * A hand-written DER encoder and the structures built with it: PKCS#10 CSRs and ECDSA signatures.
 * @module
 */
export {
  asciiBytes,
  bitString,
  boolean,
  contextTag,
  encodeLength,
  ia5String,
  integer,
  nullValue,
  objectIdentifier,
  octetString,
  sequence,
  setOf,
  Tag,
  time,
  tlv,
  utf8String,
} from "./der.ts";
export { createCsr, Oid, signerFor, subjectAltNames, type CsrOptions } from "./csr.ts";
export { createTlsAlpnCertificate, type TlsAlpnCertificateOptions } from "./tls-alpn-certificate.ts";
export { childrenOf, decodeDer, DerError, readObjectIdentifier, readString, readTime, type DerNode } from "./decoder.ts";
export { readCertificate, readCsr, type CertificateInfo, type CsrInfo } from "./x509.ts";
export { ecdsaSignatureToDer } from "./ecdsa-signature.ts";
