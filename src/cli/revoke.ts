/**
 * The `revoke` command: revoke a certificate with a request signed by its own private key.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.6
 */
import { AcmeProblemError, AcmeTimeoutError, revokeCertificate } from "../acme/index.ts";
import { exportPublicJwk } from "../jose/index.ts";
import { UsageError, type RevokeOptions } from "./args.ts";
import { readInputText, readLeafCertificate } from "./input-files.ts";
import { importPrivateKeyPem } from "./keys.ts";
import { ExitCode, type CommandIo } from "./run.ts";
import { commandTransport, resolveTrustRoots } from "./trust.ts";

/**
 * Revokes the certificate. `alreadyRevoked` from the CA is reported plainly and counts as success.
 *
 * @throws {UsageError} for unreadable files
 * @throws {AcmeProblemError} when the CA refuses for another reason
 */
export async function runRevokeCommand(options: RevokeOptions, io: CommandIo, signal?: AbortSignal): Promise<number> {
  const leafDer = readLeafCertificate(options.certFile, "--cert");
  const keyPair = await importPrivateKeyPem(readInputText(options.certKeyFile, "--cert-key"), `--cert-key ${options.certKeyFile}`);
  const deadline = AbortSignal.timeout(options.timeoutSeconds * 1000);
  const transport = commandTransport(options.directoryUrl, resolveTrustRoots(options.caFile, io.env), [signal, deadline]);
  try {
    await revokeCertificate(transport, { privateKey: keyPair.privateKey, jwk: await exportPublicJwk(keyPair.publicKey) }, leafDer, options.reason);
  } catch (error) {
    if (error instanceof AcmeProblemError && error.shortType === "alreadyRevoked") {
      io.out(`Certificate ${options.certFile} was already revoked (the CA says: ${error.problem.detail ?? "alreadyRevoked"})`);
      return ExitCode.OK;
    }
    if (deadline.aborted && !(error instanceof AcmeProblemError)) throw new AcmeTimeoutError("the revocation (--timeout)", options.timeoutSeconds);
    throw error;
  }
  io.out(`Certificate ${options.certFile} revoked${options.reason === undefined ? "" : ` (reason ${options.reason})`}`);
  return ExitCode.OK;
}
