/**
 * The `http01` / `dns01` command: start the servers, obtain the certificate, write it, serve it,
 * optionally revoke it, and wait for `GET /shutdown`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AcmeError, AcmeProblemError, AcmeProfileError, AcmeTimeoutError, ariCertId, issueCertificate, revokeCertificate, type ChallengeSolver, type Identifier } from "../acme/index.ts";
import { createCsr, readCsr } from "../asn1/index.ts";
import { ACME_TLS_ALPN_PROTOCOL, Dns01Solver, Http01Solver, TlsAlpn01Solver } from "../challenges/index.ts";
import { startDnsServer } from "../dns/index.ts";
import { decodePemBlocks, tryParseIp } from "../encoding/index.ts";
import { exportPrivateKeyPem, generateKeyPair } from "../jose/index.ts";
import { certificateHandler, serve, ServerStartError, shutdownHandler, startTlsAlpnServer, type RunningServer } from "../servers/index.ts";
import { openAccount } from "./account-state.ts";
import { normalizeIdentifier, UsageError, type ChallengeOption, type CliOptions } from "./args.ts";
import { readInputText, readLeafCertificate } from "./input-files.ts";
import { writeFilesAtomic } from "./files.ts";
import { importPrivateKeyPem } from "./keys.ts";
import { commandTransport, resolveTrustRoots } from "./trust.ts";

/** Where the command writes its lines. */
export interface CommandIo {
  readonly env: Record<string, string | undefined>;
  /** Progress and results. */
  out(line: string): void;
  /** Errors. */
  err(line: string): void;
}

interface Stoppable {
  stop(): unknown;
}

/** How long a cancelled run may take to deactivate pending authorizations before it ends anyway. */
const CANCEL_GRACE_MS = 6_000;

/** Exit codes. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/**
 * Runs the command until `GET /shutdown` (exit 0) or a failure (exit 1, or 2 for usage errors
 * such as a port in use). Every server is stopped before the returned promise resolves.
 * `signal` aborting (SIGINT/SIGTERM) also stops everything; the caller picks the exit code.
 */
export async function runIssueCommand(options: CliOptions, io: CommandIo, signal?: AbortSignal): Promise<number> {
  const servers: Stoppable[] = [];
  const deadlineTimers: ReturnType<typeof setTimeout>[] = [];
  const finished = Promise.withResolvers<number>();
  const progress = (line: string) => options.quiet || io.out(line);
  // A signal while serving stops at once; while obtaining, the flow first deactivates what it
  // left pending (bounded by its own cleanup timeout), then the run ends.
  let obtaining = true;
  signal?.addEventListener("abort", () => {
    if (!obtaining) return finished.resolve(ExitCode.FAILURE);
    setTimeout(() => finished.resolve(ExitCode.FAILURE), CANCEL_GRACE_MS);
  }, { once: true });

  const work = async () => {
    // The roots are resolved first, so that a bad --ca is reported before any server starts.
    const trust = resolveTrustRoots(options.caFile, io.env);
    const { bind, ports } = options;
    servers.push(serve({
      name: "shutdown server",
      hostname: bind,
      port: ports.shutdown,
      handler: shutdownHandler(() => finished.resolve(ExitCode.OK)),
    }));

    const dnsSolver = new Dns01Solver();
    try {
      servers.push(await startDnsServer({
        hostname: bind,
        port: ports.dns,
        zone: { address: options.record, txtValues: (name) => dnsSolver.txtValues(name) },
      }));
    } catch (error) {
      throw new ServerStartError("DNS server", bind, ports.dns, error);
    }
    let solver: ChallengeSolver = dnsSolver;
    if (options.challenge === "http01") {
      const httpSolver = new Http01Solver();
      servers.push(serve({ name: "http-01 challenge server", hostname: bind, port: ports.http, handler: (request) => httpSolver.handle(request) }));
      solver = httpSolver;
    }
    // tls-alpn-01 is answered on the HTTPS port, which the certificate server takes over afterwards.
    let tlsAlpnServer: RunningServer | undefined;
    if (options.challenge === "tls01") {
      const tlsSolver = new TlsAlpn01Solver();
      tlsAlpnServer = await startTlsAlpnServer({
        hostname: bind,
        port: ports.https,
        protocol: ACME_TLS_ALPN_PROTOCOL,
        certificateFor: (serverName) => tlsSolver.certificateFor(serverName),
      });
      servers.push(tlsAlpnServer);
      solver = tlsSolver;
    }

    // --timeout covers obtaining (and revoking) the certificate, not serving it.
    const deadline = new AbortController();
    deadlineTimers.push(setTimeout(
      () => deadline.abort(new AcmeTimeoutError("the certificate (--timeout)", options.timeoutSeconds)),
      options.timeoutSeconds * 1000,
    ));
    const transport = commandTransport(options.directoryUrl, trust, [signal, deadline.signal]);
    if (trust) progress(`Trusting the CA roots in ${trust.path} (from ${trust.source})`);
    // Fetch the directory while the keys are generated; errors surface at the next use.
    transport.getDirectory().catch(() => {});
    const certificateKeys = options.certKeyFile
      ? await importPrivateKeyPem(readInputText(options.certKeyFile, "--cert-key"), `--cert-key ${options.certKeyFile}`)
      : options.csrFile
      ? undefined
      : await generateKeyPair(options.keyType);
    const request = options.csrFile ? readCsrFile(options.csrFile, options.challenge) : undefined;
    const identifiers = request?.identifiers ?? options.identifiers;
    const [{ account, reused }, csr] = await Promise.all([
      openAccount(transport, {
        ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
        ...(options.accountKeyFile !== undefined ? { accountKeyFile: options.accountKeyFile } : {}),
        accountKeyType: options.accountKeyType,
        contact: options.contact,
        ...(options.eab ? { eab: options.eab } : {}),
      }),
      request?.der ?? createCsr({
        dnsNames: identifiers.filter((identifier) => identifier.type === "dns").map((identifier) => identifier.value),
        ipAddresses: identifiers.filter((identifier) => identifier.type === "ip").map((identifier) => tryParseIp(identifier.value)!),
        keyPair: certificateKeys!,
      }),
    ]);
    progress(`Account ${account.kid}${reused ? ` (reused from ${options.stateDir})` : ""}`);
    const issued = await issueCertificate({
      transport,
      account,
      identifiers,
      solver,
      csr,
      signal: deadline.signal,
      log: progress,
      ...(options.preferredChain !== undefined ? { preferredChain: options.preferredChain } : {}),
      orderExtras: {
        ...(options.profile !== undefined ? { profile: options.profile } : {}),
        ...(options.replacesFile !== undefined ? { replaces: ariCertId(readLeafCertificate(options.replacesFile, "--replaces")) } : {}),
      },
    });

    const certificatePath = join(options.outDir, "cert.pem");
    const keyPath = join(options.outDir, "key.pem");
    const keyPem = certificateKeys ? await exportPrivateKeyPem(certificateKeys.privateKey) : undefined;
    writeFilesAtomic([
      ...(keyPem ? [{ path: keyPath, data: keyPem, mode: 0o600 }] : []),
      { path: certificatePath, data: issued.pem, mode: 0o644 },
    ]);
    const names = identifiers.map((identifier) => identifier.value).join(", ");
    io.out(`Certificate for ${names} written to ${certificatePath}${keyPem ? ` (key: ${keyPath})` : " (the key stays with the CSR's owner)"}`);

    if (options.revoke) {
      const leaf = decodePemBlocks(issued.pem).find((block) => block.label === "CERTIFICATE")!;
      await revokeCertificate(transport, account, leaf.der, options.revokeReason);
      io.out(`Certificate revoked${options.revokeReason === undefined ? "" : ` with reason ${options.revokeReason}`} (${issued.certificateUrl})`);
    }
    for (const timer of deadlineTimers) clearTimeout(timer);
    obtaining = false;

    if (tlsAlpnServer) {
      await tlsAlpnServer.stop();
      servers.splice(servers.indexOf(tlsAlpnServer), 1);
    }
    if (keyPem) {
      servers.push(serve({
        name: "certificate HTTPS server",
        hostname: bind,
        port: ports.https,
        handler: certificateHandler,
        tls: { certificate: issued.pem, privateKey: keyPem },
      }));
    } else {
      io.out("Not serving the certificate over HTTPS: its key came with the CSR and is not here (give it with --cert-key)");
    }
    progress(`${transport.requestCount} requests to the CA (${issued.waitingPolls} of them polls that found work still in progress)`);
    io.out(`Serving the certificate on https://${bind}:${ports.https}/ until GET http://${bind}:${ports.shutdown}/shutdown`);
  };

  work().catch((error: unknown) => {
    io.err(`bun-acme: error: ${describeError(error, io.env)}`);
    finished.resolve(exitCodeFor(error));
  }).finally(() => (obtaining = false));
  const code = await finished.promise;
  for (const timer of deadlineTimers) clearTimeout(timer);
  await Promise.allSettled(servers.map((server) => server.stop()));
  return code;
}

/**
 * Reads a CSR file (PEM or DER) and its names as identifiers: the SANs, and the subject CN when
 * no SAN repeats it.
 *
 * @throws {UsageError} when the file is unreadable, not a CSR, names nothing, or names something invalid
 */
function readCsrFile(path: string, challenge: ChallengeOption): { der: Uint8Array; identifiers: Identifier[] } {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (error) {
    throw new UsageError(`cannot read --csr ${path}: ${(error as { code?: string }).code ?? "unreadable"}`);
  }
  const text = new TextDecoder().decode(bytes);
  let der = bytes;
  try {
    const block = decodePemBlocks(text).find((candidate) => /CERTIFICATE REQUEST/.test(candidate.label));
    if (block) der = block.der;
  } catch { /* not PEM: DER */ }
  let names: string[];
  try {
    const info = readCsr(der);
    names = [...info.dnsNames, ...info.ipAddresses];
    if (info.commonName && !names.includes(info.commonName)) names.unshift(info.commonName);
  } catch {
    throw new UsageError(`--csr ${path} is not a PKCS#10 certificate request (PEM or DER)`);
  }
  if (names.length === 0) throw new UsageError(`--csr ${path} names no identifier (no CN, no subjectAltName)`);
  const seen = new Set<string>();
  const identifiers = names.map((name) => normalizeIdentifier(name, challenge)).filter((identifier) => {
    const key = `${identifier.type}:${identifier.value}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  return { der, identifiers };
}

/** The exit code for an error: 2 for mistakes the user can fix on the command line, else 1. */
export function exitCodeFor(error: unknown): number {
  return error instanceof UsageError || error instanceof ServerStartError || error instanceof AcmeProfileError ? ExitCode.USAGE : ExitCode.FAILURE;
}

/** One line for an error. Stack traces only for unexpected errors, and only with `BUN_ACME_DEBUG`. */
export function describeError(error: unknown, env: Record<string, string | undefined>): string {
  if (error instanceof UsageError) return `${error.message} (see --help)`;
  if (error instanceof ServerStartError) {
    return `${error.message}; stop whatever holds it or pick another port with the --*-port options`;
  }
  if (error instanceof AcmeProblemError && error.shortType === "externalAccountRequired") {
    return `${error.message}; this CA needs External Account Binding: give the credentials it issued with --eab-kid and --eab-hmac-key`;
  }
  if (error instanceof AcmeError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  const path = (error as { path?: unknown } | null)?.path;
  if (typeof code === "string" && typeof path === "string") return `cannot use ${path}: ${code}`;
  const message = error instanceof Error ? error.message : String(error);
  if (env.BUN_ACME_DEBUG && error instanceof Error && error.stack) return `unexpected error: ${error.stack}`;
  return `unexpected error: ${message.split("\n")[0]} (set BUN_ACME_DEBUG=1 for details)`;
}
