/**
 * A certificate to serve, issued by a test root: what HotTlsServer and manage() take.
 */
import { generateKeyPair, exportPrivateKeyPem } from "../../src/jose/index.ts";
import type { ServedCertificate } from "../../src/servers/index.ts";
import { buildCertificate, chainPem, DAY, spkiOf, type TestIssuer } from "./certificates.ts";

/** A leaf for `names` (DNS names) from `root`, valid from a day ago for 30 days, with a fresh P-256 key. */
export async function servedLeaf(root: TestIssuer, names: readonly string[]): Promise<ServedCertificate> {
  const keyPair = await generateKeyPair("ec256");
  const now = Date.now();
  const der = await buildCertificate({
    subject: names[0]!, spki: await spkiOf(keyPair), issuer: root, dnsNames: names, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY),
  });
  return { names, chainPem: chainPem([der]), keyPem: await exportPrivateKeyPem(keyPair.privateKey) };
}
