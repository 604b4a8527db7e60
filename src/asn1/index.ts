/**
 * A hand-written DER encoder and reader, and the structures built and read with them: PKCS#10
 * CSRs, the tls-alpn-01 certificate, X.509 certificates, private keys.
 * @module
 */
export { createCsr, signerFor, subjectAltNames, type CsrOptions, type Signer } from "./csr.ts";
export { ContextTag, Oid } from "./oids.ts";
export { createTlsAlpnCertificate, type TlsAlpnCertificateOptions } from "./tls-alpn-certificate.ts";
export { createSelfSignedCertificate, type SelfSignedOptions } from "./self-signed.ts";
export { decodeDer, DerError, type DerNode } from "./decoder.ts";
export { parseCsr, readCertificate, readCsr, type CertificateInfo, type CsrInfo, type ParsedCsr } from "./x509.ts";
export { importPrivateKeyPem } from "./private-key.ts";
export { verifyCertificateSignature } from "./signature.ts";
