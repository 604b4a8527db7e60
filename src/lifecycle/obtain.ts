/**
 * Obtaining a lineage's certificate: a fresh key, a CSR for its names, the issuance, and the
 * metadata the store keeps. Nothing is saved here: the caller saves (or, for a dry run, does not).
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4
 */
import { issueCertificate, type AcmeAccount, type AcmeTransport, type ChallengeSolver, type Clock } from "../acme/index.ts";
import { createCsr } from "../asn1/index.ts";
import { decodePemBlocks, toHex } from "../encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../jose/index.ts";
import type { LineageConfig, StoredLineage } from "../store/index.ts";
import { scheduleRenewal } from "./schedule.ts";

/** One issuance for a lineage. */
export interface ObtainOptions {
  readonly config: LineageConfig;
  readonly transport: AcmeTransport;
  readonly account: AcmeAccount;
  readonly solver: ChallengeSolver;
  /** The ARI ID of the certificate being renewed, sent as `replaces` when the CA offers ARI. */
  readonly replaces?: string;
  readonly signal?: AbortSignal;
  readonly cleanupSignal?: AbortSignal;
  readonly log?: (line: string) => void;
  /** Time for polling and for the metadata (default: the system clock). */
  readonly clock?: Clock;
}

/**
 * Obtains a certificate for the lineage with a new key, and computes its metadata (serial,
 * validity, ARI ID, next renewal).
 *
 * @throws {AcmeError} as {@link issueCertificate} does
 */
export async function obtainLineage(options: ObtainOptions): Promise<StoredLineage> {
  const { config, transport } = options;
  const keyPair = await generateKeyPair(config.keyType);
  const csr = await createCsr({ identifiers: config.identifiers, keyPair });
  const directory = await transport.getDirectory();
  const issued = await issueCertificate({
    transport,
    account: options.account,
    identifiers: config.identifiers,
    solver: options.solver,
    csr,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.cleanupSignal ? { cleanupSignal: options.cleanupSignal } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(config.preferredChain !== undefined ? { preferredChain: config.preferredChain } : {}),
    orderExtras: {
      ...(config.profile !== undefined ? { profile: config.profile } : {}),
      ...(options.replaces && directory.renewalInfo ? { replaces: options.replaces } : {}),
    },
  });
  const leafDer = decodePemBlocks(issued.pem)[0]!.der;
  const now = options.clock?.now() ?? Date.now();
  return {
    config,
    keyPem: await exportPrivateKeyPem(keyPair.privateKey),
    chainPem: issued.pem,
    meta: {
      version: 1,
      serial: toHex(issued.leaf.serialNumber).replace(/^(00)+(?=.)/, "").toUpperCase(),
      notBefore: issued.leaf.notBefore.toISOString(),
      notAfter: issued.leaf.notAfter.toISOString(),
      certificateUrl: issued.certificateUrl,
      accountUrl: options.account.kid,
      obtainedAt: new Date(now).toISOString(),
      ...(await scheduleRenewal(leafDer, issued.leaf, transport, now)),
    },
  };
}
