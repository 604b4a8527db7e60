/**
 * Alternate certificate chains: which one a client wants, by the issuer of its topmost certificate.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4.2
 */
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { downloadCertificate, type CertificateDownload } from "./endpoints.ts";
import type { AcmeSigner, AcmeTransport } from "./transport.ts";

/** The Common Name of the issuer of a chain's last certificate. */
export function topIssuerCommonName(pem: string): string | undefined {
  const certificates = decodePemBlocks(pem).filter((block) => block.label === "CERTIFICATE");
  const top = certificates.at(-1);
  return top ? readCertificate(top.der).issuerCommonName : undefined;
}

/**
 * Picks the chain whose topmost certificate was issued by the preferred Common Name.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4.2
 */
export async function choosePreferredChain(
  transport: AcmeTransport,
  account: AcmeSigner,
  download: CertificateDownload,
  wanted: string,
  log?: (line: string) => void,
): Promise<string> {
  const defaultIssuer = topIssuerCommonName(download.pem);
  if (defaultIssuer === wanted) return download.pem;
  for (const url of download.alternates) {
    const alternate = await downloadCertificate(transport, account, url);
    if (topIssuerCommonName(alternate.pem) === wanted) {
      log?.(`Using the alternate chain ${url}, issued by "${wanted}"`);
      return alternate.pem;
    }
  }
  log?.(`No chain is issued by "${wanted}" (default: "${defaultIssuer}", ${download.alternates.length} alternate(s)); keeping the default`);
  return download.pem;
}

