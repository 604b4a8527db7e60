import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { createTlsAlpnCertificate } from "../asn1/index.ts";
import { encodePem, sha256, tryParseIp, utf8Encode } from "../encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../jose/index.ts";

/** The ALPN protocol a tls-alpn-01 validation negotiates. @see https://www.rfc-editor.org/rfc/rfc8737#section-6.2 */
export const ACME_TLS_ALPN_PROTOCOL = "acme-tls/1";

/** A certificate and key, PEM, for one TLS server name. */
export interface PemCertificate {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

/**
 * The TLS server name (SNI) the CA sends for an identifier: the DNS name itself, or for an IP
 * address its reverse-mapping name (`4.3.2.1.in-addr.arpa`, nibbles under `ip6.arpa`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8737#section-3
 * @see https://www.rfc-editor.org/rfc/rfc8738#section-6
 */
export function tlsAlpnServerName(identifier: Identifier): string {
  if (identifier.type !== "ip") return identifier.value.toLowerCase();
  const bytes = tryParseIp(identifier.value);
  if (!bytes) throw new RangeError(`Cannot map "${identifier.value}" to a reverse name: not an IP address`);
  if (bytes.length === 4) return `${[...bytes].reverse().join(".")}.in-addr.arpa`;
  const nibbles = [...bytes].flatMap((byte) => [byte >> 4, byte & 0xf]).map((nibble) => nibble.toString(16));
  return `${nibbles.reverse().join(".")}.ip6.arpa`;
}

/**
 * The validation certificate for one identifier: a fresh P-256 key, self-signed, with the
 * identifier as its only name and the SHA-256 of the key authorization in the critical
 * acmeIdentifier extension.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8737#section-3
 */
export async function tlsAlpnCertificate(identifier: Identifier, keyAuthorization: string): Promise<PemCertificate> {
  const keyPair = await generateKeyPair("ec256");
  const ipAddress = identifier.type === "ip" ? tryParseIp(identifier.value) : undefined;
  const der = await createTlsAlpnCertificate({
    identifier: ipAddress ? { ipAddress } : { dnsName: identifier.value },
    keyAuthorizationDigest: await sha256(utf8Encode(keyAuthorization)),
    keyPair,
  });
  return { certificatePem: encodePem("CERTIFICATE", der), privateKeyPem: await exportPrivateKeyPem(keyPair.privateKey) };
}

/**
 * Solves tls-alpn-01: for each identifier, a self-signed certificate with the acmeIdentifier
 * extension, served (by a TLS server that negotiates `acme-tls/1`) for the identifier's SNI.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8737
 */
export class TlsAlpn01Solver implements ChallengeSolver {
  readonly type = "tls-alpn-01";
  private readonly certificates = new Map<string, PemCertificate>();

  async present(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    this.certificates.set(tlsAlpnServerName(identifier), await tlsAlpnCertificate(identifier, keyAuthorization));
  }

  cleanup(identifier: Identifier): void {
    this.certificates.delete(tlsAlpnServerName(identifier));
  }

  /** The validation certificate for a TLS server name, if one is presented. */
  certificateFor(serverName: string): PemCertificate | undefined {
    return this.certificates.get(serverName.toLowerCase());
  }
}
