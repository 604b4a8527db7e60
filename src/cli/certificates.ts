/**
 * `certificates`: the stored lineages, with their names, expiry, next renewal time (as the
 * renewal schedule stored it, and whether it has come) and issuer (the CA's directory URL and
 * the issuing certificate's common name).
 */
import { importPrivateKeyPem, readCertificate, verifyCertificateSignature, type CertificateInfo } from "../asn1/index.ts";
import { decodePemBlocks, toHex } from "../encoding/index.ts";
import { certificateOf, failureOf, isDue } from "../lifecycle/index.ts";
import type { CertificateStore, StoredLineage } from "../store/index.ts";
import { STORE_FLAGS_HELP } from "./certonly.ts";
import { openCommandStore, readStoreLocation, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command } from "./command.ts";
import { describeError, ExitCode } from "./errors.ts";
import { Reporter } from "./report.ts";

/** Everything `certificates` needs. */
export interface CertificatesOptions extends BaseOptions {
  readonly store: StoreLocation;
  readonly json: boolean;
}

/** The `certificates` command: its flags, parser and run function. */
export const certificatesCommand: Command<CertificatesOptions> = {
  name: "certificates",
  synopsis: "certificates [--state DIR | --store URL] [--json]",
  summary: "list the stored certificates: names, expiry, next renewal, and EXPIRED or INVALID (key does not match the certificate, chain does not verify) as certbot marks them",
  flags: ["--state", "--store", "--json"],
  helpFor: STORE_FLAGS_HELP,
  timeoutWhat: "the list (--timeout)",
  parse(flags) {
    flags.noPositionals();
    return { store: readStoreLocation(flags), json: flags.has("--json"), caFile: undefined, timeoutSeconds: 300 };
  },
  async run(options, { io }) {
    const reporter = new Reporter(io, options.json);
    const store = openCommandStore(options.store, io.env);
    try {
      return await list(store, reporter, io.env);
    } finally {
      await store.close?.();
    }
  },
};

/**
 * One line per stored lineage, marked as certbot marks them: `EXPIRED`, `INVALID (key does not
 * match the certificate)`, `INVALID (the chain does not verify)`; a lineage whose files are
 * damaged is reported and counted.
 */
async function list(store: CertificateStore, reporter: Reporter, env: Record<string, string | undefined>): Promise<number> {
  const names = await store.list();
  if (names.length === 0) reporter.progress(`No certificates in ${store.description}`);
  let failures = 0;
  for (const name of names) {
    try {
      const summary = (await store.summary(name))!;
      const lineage = await store.load(name);
      const now = Date.now();
      const problems = await lineageProblems(lineage, now);
      const folder = store.locate(name);
      const { meta } = summary;
      reporter.report({
        type: "lineage", ...certificateOf(summary), ...(folder !== undefined ? { folder } : {}),
        ...(problems.length ? { problems, status: problems.some((problem) => problem.startsWith("INVALID")) ? "invalid" : "expired" } : {}),
        ...(lineage ? issuerNameOf(lineage) : {}),
        due: isDue(meta, now), renewalSource: meta.renewalSource, ...(meta.ariRetryAt ? { ariRetryAt: meta.ariRetryAt } : {}),
      });
    } catch (error) {
      reporter.report({ type: "failed", lineage: name, names: [], ...failureOf(error, describeError(error, env)) });
      failures++;
    }
  }
  return failures > 0 ? ExitCode.FAILURE : ExitCode.OK;
}

/** The common name of the certificate's issuer, as its leaf names it; nothing when the leaf cannot be read. */
export function issuerNameOf(lineage: StoredLineage): { issuerName?: string } {
  try {
    const leafDer = decodePemBlocks(lineage.chainPem).find((block) => block.label === "CERTIFICATE")?.der;
    const commonName = leafDer ? readCertificate(leafDer).issuerCommonName : undefined;
    return commonName === undefined ? {} : { issuerName: commonName };
  } catch {
    return {}; // lineageProblems() says why
  }
}

/** What is wrong with a stored certificate at `now`: nothing, or certbot's marks. */
export async function lineageProblems(lineage: StoredLineage | undefined, now: number): Promise<string[]> {
  if (!lineage) return [];
  let chain: CertificateInfo[];
  try {
    chain = decodePemBlocks(lineage.chainPem).filter((block) => block.label === "CERTIFICATE").map((block) => readCertificate(block.der));
  } catch {
    return ["INVALID (the certificate cannot be read)"];
  }
  const leaf = chain[0];
  if (!leaf) return ["INVALID (no certificate)"];
  const problems: string[] = [];
  if (leaf.notAfter.getTime() <= now) problems.push("EXPIRED");
  if (!(await keyMatches(lineage.keyPem, leaf))) problems.push("INVALID (key does not match the certificate)");
  for (let index = 0; index + 1 < chain.length; index++) {
    const signed = await verifyCertificateSignature(chain[index]!, chain[index + 1]!.subjectPublicKeyInfo).catch(() => false);
    if (!signed) {
      problems.push("INVALID (the chain does not verify)");
      break;
    }
  }
  return problems;
}

async function keyMatches(keyPem: string, leaf: CertificateInfo): Promise<boolean> {
  try {
    const { publicKey } = await importPrivateKeyPem(keyPem);
    return toHex(new Uint8Array(await crypto.subtle.exportKey("spki", publicKey))) === toHex(leaf.subjectPublicKeyInfo);
  } catch {
    return false;
  }
}
