/**
 * The `renewal-info` command: when to renew a certificate, and why.
 * @see https://www.rfc-editor.org/rfc/rfc9773
 */
import { ariCertId, chooseRenewalTime, getRenewalInfo } from "../acme/index.ts";
import { readCertificate } from "../asn1/index.ts";
import type { RenewalInfoOptions } from "./args.ts";
import { readLeafCertificate } from "./input-files.ts";
import { ExitCode, type CommandIo } from "./run.ts";
import { commandTransport, resolveTrustRoots } from "./trust.ts";

/** Prints the renewal time and its reason: the CA's ARI window, or 2/3 of the validity period. */
export async function runRenewalInfoCommand(options: RenewalInfoOptions, io: CommandIo, signal?: AbortSignal): Promise<number> {
  const der = readLeafCertificate(options.certFile, "--cert");
  const certificate = readCertificate(der);
  let renewalInfo: Awaited<ReturnType<typeof getRenewalInfo>>;
  let why = "no --dir given";
  if (options.directoryUrl) {
    const deadline = AbortSignal.timeout(options.timeoutSeconds * 1000);
    const transport = commandTransport(options.directoryUrl, resolveTrustRoots(options.caFile, io.env), [signal, deadline]);
    renewalInfo = await getRenewalInfo(transport, ariCertId(der));
    why = "the CA's directory offers no renewalInfo";
  }
  const advice = chooseRenewalTime(certificate, renewalInfo);
  io.out(`Certificate ${options.certFile}: valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}`);
  if (advice.source === "renewalInfo") {
    io.out(`Renew at ${advice.renewAt.toISOString()}: a random moment in the CA's suggested window ${advice.window!.start.toISOString()} to ${advice.window!.end.toISOString()}${
      advice.explanationURL ? ` (explanation: ${advice.explanationURL})` : ""
    }`);
    if (advice.retryAfterMs !== undefined) io.out(`Ask the CA again after ${new Date(Date.now() + advice.retryAfterMs).toISOString()}`);
  } else {
    io.out(`Renew at ${advice.renewAt.toISOString()}: 2/3 of the validity period (${why})`);
  }
  return ExitCode.OK;
}
