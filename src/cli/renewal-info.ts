/**
 * The `renewal-info` command: when to renew a certificate, and why.
 * @see https://www.rfc-editor.org/rfc/rfc9773
 */
import { ariCertId, chooseRenewalTime, getRenewalInfo } from "../acme/index.ts";
import { readCertificate } from "../asn1/index.ts";
import type { BaseOptions, Command } from "./command.ts";
import { ExitCode } from "./errors.ts";
import { COMMON_FLAGS } from "./flags.ts";
import { readLeafCertificate } from "./input-files.ts";
import { Reporter } from "./report.ts";
import { readDirectory, readTimeout } from "./values.ts";

/** Everything the `renewal-info` command needs. */
export interface RenewalInfoOptions extends BaseOptions {
  readonly certFile: string;
  /** Without a directory, the advice falls back to 2/3 of the validity period. */
  readonly directoryUrl: string | undefined;
  readonly json: boolean;
}

/** Prints the renewal time and its reason: the CA's ARI window, or 2/3 of the validity period. */
export const renewalInfoCommand: Command<RenewalInfoOptions> = {
  name: "renewal-info",
  synopsis: "renewal-info --cert FILE [--dir URL]",
  summary: "when to renew: inside the CA's ARI window, else at 2/3 of the validity",
  flags: [...COMMON_FLAGS, "--cert", "--json"],
  timeoutWhat: "the renewal information (--timeout)",
  parse(flags) {
    flags.noPositionals();
    return {
      certFile: flags.required("--cert"),
      directoryUrl: flags.has("--dir") ? readDirectory(flags) : undefined,
      json: flags.has("--json"),
      caFile: flags.single("--ca"),
      timeoutSeconds: readTimeout(flags),
    };
  },
  async run(options, { io, transport }) {
    const der = readLeafCertificate(options.certFile, "--cert");
    const certificate = readCertificate(der);
    const renewalInfo = options.directoryUrl ? await getRenewalInfo(transport(options.directoryUrl), ariCertId(der)) : undefined;
    const why = options.directoryUrl ? "the CA's directory offers no renewalInfo" : "no --dir given";
    const advice = chooseRenewalTime(certificate, renewalInfo);
    if (options.json) {
      new Reporter(io, true).report({
        type: "renewal_info",
        certificate: options.certFile,
        notBefore: certificate.notBefore.toISOString(),
        notAfter: certificate.notAfter.toISOString(),
        renewAt: advice.renewAt.toISOString(),
        source: advice.source,
        ...(advice.window ? { window: { start: advice.window.start.toISOString(), end: advice.window.end.toISOString() } } : {}),
        ...(advice.explanationURL ? { explanationUrl: advice.explanationURL } : {}),
        ...(advice.retryAfterMs !== undefined ? { askAgainAfter: new Date(Date.now() + advice.retryAfterMs).toISOString() } : {}),
      });
      return ExitCode.OK;
    }
    io.out(`Certificate ${options.certFile}: valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}`);
    if (advice.source === "renewalInfo") {
      const window = `${advice.window!.start.toISOString()} to ${advice.window!.end.toISOString()}`;
      io.out(`Renew at ${advice.renewAt.toISOString()}: a random moment in the CA's suggested window ${window}${advice.explanationURL ? ` (explanation: ${advice.explanationURL})` : ""}`);
      if (advice.retryAfterMs !== undefined) io.out(`Ask the CA again after ${new Date(Date.now() + advice.retryAfterMs).toISOString()}`);
    } else {
      io.out(`Renew at ${advice.renewAt.toISOString()}: 2/3 of the validity period (${why})`);
    }
    return ExitCode.OK;
  },
};
