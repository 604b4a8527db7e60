/**
 * The `revoke` command: revoke a certificate with a request signed by its own private key.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.6
 */
import { AcmeProblemError, revokeCertificate } from "../acme/index.ts";
import { exportPublicJwk } from "../jose/index.ts";
import type { BaseOptions, Command } from "./command.ts";
import { ExitCode } from "./errors.ts";
import { COMMON_FLAGS } from "./flags.ts";
import { readKeyFile, readLeafCertificate } from "./input-files.ts";
import { readDirectory, readReason, readTimeout } from "./values.ts";

/** Everything the `revoke` command needs. */
export interface RevokeOptions extends BaseOptions {
  readonly directoryUrl: string;
  readonly certFile: string;
  /** The certificate's own private key, which signs the request (RFC 8555 §7.6). */
  readonly certKeyFile: string;
  readonly reason: number | undefined;
  readonly allowInsecureHttp: boolean;
}

/** Revokes the certificate. `alreadyRevoked` from the CA is reported plainly and counts as success. */
export const revokeCommand: Command<RevokeOptions> = {
  name: "revoke",
  synopsis: "revoke --dir URL --cert FILE --cert-key FILE [--reason REASON]",
  summary: "revoke a certificate, signing with its own key; an already revoked certificate is reported as such (exit 0)",
  flags: [...COMMON_FLAGS, "--cert", "--cert-key", "--reason"],
  timeoutWhat: "the revocation (--timeout)",
  parse(flags) {
    flags.noPositionals();
    return {
      directoryUrl: readDirectory(flags),
      certFile: flags.required("--cert"),
      certKeyFile: flags.required("--cert-key"),
      reason: readReason(flags, "--reason"),
      caFile: flags.single("--ca"),
      allowInsecureHttp: flags.has("--allow-insecure-http"),
      timeoutSeconds: readTimeout(flags),
    };
  },
  async run(options, { io, transport }) {
    const leafDer = readLeafCertificate(options.certFile, "--cert");
    const keyPair = await readKeyFile(options.certKeyFile, "--cert-key");
    try {
      const signer = { privateKey: keyPair.privateKey, jwk: await exportPublicJwk(keyPair.publicKey) };
      await revokeCertificate(transport(options.directoryUrl), signer, leafDer, options.reason);
    } catch (error) {
      if (!(error instanceof AcmeProblemError && error.is("alreadyRevoked"))) throw error;
      io.out(`Certificate ${options.certFile} was already revoked (the CA says: ${error.problem.detail ?? "alreadyRevoked"})`);
      return ExitCode.OK;
    }
    io.out(`Certificate ${options.certFile} revoked${options.reason === undefined ? "" : ` (reason ${options.reason})`}`);
    return ExitCode.OK;
  },
};
