/**
 * The `http01` / `dns01` / `tls01` command (the ETH interface): start the responders, obtain the
 * certificate, write it, optionally revoke it, serve it over HTTPS, and wait for `GET /shutdown`.
 */
import { join } from "node:path";
import { ariCertId, issueCertificate, normalizeIdentifiers, revokeCertificate, type AcmeTransport, type ChallengeType, type Identifier } from "../acme/index.ts";
import { createCsr } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { ACCOUNT_KEY_TYPES, exportPrivateKeyPem, generateKeyPair, KEY_TYPES, type KeyType } from "../jose/index.ts";
import { certificateHandler, reservePort, serve, shutdownHandler, startResponders, type RunningServer } from "../servers/index.ts";
import { openAccount, writeFilesAtomic } from "../store/index.ts";
import type { BaseOptions, Command, CommandContext } from "./command.ts";
import { ExitCode, ShutdownBeforeCertificate, UsageError, withFlag } from "./errors.ts";
import { checkDistinctPorts, checkUsableDir } from "./preflight.ts";
import { COMMON_FLAGS, DEFAULT_PORTS } from "./flags.ts";
import { readCsrFile, readKeyFile, readLeafCertificate } from "./input-files.ts";
import { readContacts, readDirectory, readEab, readIdentifiers, readKeyType, readPort, readReason, readRecord, readTimeout, type EabFlags } from "./values.ts";

/** The challenge types as the ETH interface names them (`tls01` is tls-alpn-01). */
export type ChallengeOption = "http01" | "dns01" | "tls01";

/** Spellings accepted for each challenge type. */
const CHALLENGE_ALIASES: Readonly<Record<string, ChallengeOption>> = {
  http01: "http01",
  "http-01": "http01",
  dns01: "dns01",
  "dns-01": "dns01",
  tls01: "tls01",
  "tls-alpn01": "tls01",
  "tls-alpn-01": "tls01",
};

const CHALLENGE_TYPES: Readonly<Record<ChallengeOption, ChallengeType>> = { http01: "http-01", dns01: "dns-01", tls01: "tls-alpn-01" };

/** Everything the issue command needs. */
export interface CliOptions extends BaseOptions {
  readonly challenge: ChallengeOption;
  readonly directoryUrl: string;
  readonly record: string;
  /** Lowercase, deduplicated, in the order given (IP addresses in canonical form). */
  readonly domains: readonly string[];
  /** The same names as ACME identifiers: `dns`, or `ip` for addresses (RFC 8738). Empty with `--csr`. */
  readonly identifiers: readonly Identifier[];
  readonly revoke: boolean;
  readonly outDir: string;
  readonly keyType: KeyType;
  readonly accountKeyType: KeyType;
  readonly contact: readonly string[];
  readonly bind: string;
  readonly ports: { readonly dns: number; readonly http: number; readonly https: number; readonly shutdown: number };
  readonly allowInsecureHttp: boolean;
  readonly quiet: boolean;
  readonly eab: EabFlags | null;
  /** RFC 5280 CRLReason code sent with --revoke. */
  readonly revokeReason: number | undefined;
  readonly profile: string | undefined;
  readonly replacesFile: string | undefined;
  readonly stateDir: string | undefined;
  readonly accountKeyFile: string | undefined;
  readonly certKeyFile: string | undefined;
  readonly csrFile: string | undefined;
  readonly preferredChain: string | undefined;
}

/** How long a cancelled run may take to deactivate pending authorizations before it ends anyway. */
const CANCEL_GRACE_MS = 6_000;

/** The command of the ETH interface. */
export const issueCommand: Command<CliOptions> = {
  name: "http01 | dns01 | tls01",
  synopsis: "{http01|dns01|tls01} --dir URL --record IPv4 --domain NAME [--domain NAME ...] [options]",
  summary: "obtain a certificate for every --domain, proving control with the built-in DNS server (dns01), HTTP server (http01) " +
    "or TLS responder (tls01, RFC 8737), serve it over HTTPS, and stop on GET /shutdown",
  flags: [
    ...COMMON_FLAGS, "--record", "--domain", "--ip", "--revoke", "--revoke-reason", "--out", "--key-type", "--account-key-type", "--contact",
    "--eab-kid", "--eab-hmac-key", "--bind", "--dns-port", "--http-port", "--https-port", "--shutdown-port", "--quiet", "--profile",
    "--replaces", "--state", "--account-key", "--cert-key", "--csr", "--preferred-chain",
  ],
  timeoutWhat: "the certificate (--timeout)",
  parse: parseIssue,
  run: runIssue,
};

function parseIssue(flags: Parameters<Command["parse"]>[0]): CliOptions {
  const { positionals } = flags;
  if (positionals.length === 0) throw new UsageError("missing the challenge type: http01, dns01 or tls01");
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const challenge = CHALLENGE_ALIASES[positionals[0]!];
  if (!challenge) throw new UsageError(`unknown challenge type "${positionals[0]}": use http01, dns01 or tls01`);
  const eab = readEab(flags);
  const directoryUrl = readDirectory(flags, eab);
  const record = readRecord(flags);
  const csrFile = flags.single("--csr");
  const named = flags.has("--domain") || flags.has("--ip");
  if (csrFile !== undefined && named) throw new UsageError("--csr names the identifiers itself: drop --domain and --ip");
  if (!named && csrFile === undefined) throw new UsageError("missing --domain NAME (repeat it for more names)");
  const identifiers = csrFile === undefined ? readIdentifiers(flags, CHALLENGE_TYPES[challenge]) : [];
  if (flags.has("--revoke-reason") && !flags.has("--revoke")) throw new UsageError("--revoke-reason needs --revoke");
  const ports = {
    dns: readPort(flags, "--dns-port", DEFAULT_PORTS.dns),
    http: readPort(flags, "--http-port", DEFAULT_PORTS.http),
    https: readPort(flags, "--https-port", DEFAULT_PORTS.https),
    shutdown: readPort(flags, "--shutdown-port", DEFAULT_PORTS.shutdown),
  };
  // TCP listeners: the DNS server listens on TCP too; http-01 alone runs an HTTP challenge server.
  checkDistinctPorts([
    { flag: "--https-port", port: ports.https },
    { flag: "--shutdown-port", port: ports.shutdown },
    { flag: "--dns-port", port: ports.dns },
    ...(challenge === "http01" ? [{ flag: "--http-port", port: ports.http }] : []),
  ]);
  return {
    challenge,
    directoryUrl,
    record,
    domains: identifiers.map((identifier) => identifier.value),
    identifiers,
    revoke: flags.has("--revoke"),
    caFile: flags.single("--ca"),
    outDir: flags.single("--out") ?? "certs",
    keyType: readKeyType(flags, "--key-type", KEY_TYPES),
    accountKeyType: readKeyType(flags, "--account-key-type", ACCOUNT_KEY_TYPES),
    contact: readContacts(flags),
    bind: flags.single("--bind") ?? "0.0.0.0",
    ports,
    allowInsecureHttp: flags.has("--allow-insecure-http"),
    quiet: flags.has("--quiet"),
    timeoutSeconds: readTimeout(flags),
    eab,
    revokeReason: readReason(flags, "--revoke-reason"),
    profile: flags.single("--profile"),
    replacesFile: flags.single("--replaces"),
    stateDir: flags.single("--state"),
    accountKeyFile: flags.single("--account-key"),
    certKeyFile: flags.single("--cert-key"),
    csrFile,
    preferredChain: flags.single("--preferred-chain"),
  };
}

interface Stoppable {
  stop(): unknown;
}

/**
 * Runs until `GET /shutdown` (exit 0) or a failure (exit 1, or 2 for a port in use). Every
 * server is stopped before the returned promise resolves. SIGINT/SIGTERM, or `GET /shutdown`,
 * while obtaining first lets the flow deactivate what it left pending (exit 130/143, or 3);
 * while serving, they stop it at once.
 */
async function runIssue(options: CliOptions, context: CommandContext): Promise<number> {
  const servers: Stoppable[] = [];
  const finished = Promise.withResolvers<number>();
  let obtaining = true;
  const cancelled = (code: number) => {
    if (!obtaining) return finished.resolve(code === ExitCode.CANCELLED ? ExitCode.OK : code);
    setTimeout(() => finished.resolve(code), CANCEL_GRACE_MS);
  };
  context.signal.addEventListener("abort", () => cancelled(ExitCode.FAILURE), { once: true });
  const shutdown = new AbortController();
  const onShutdown = () => {
    if (obtaining) shutdown.abort(new ShutdownBeforeCertificate());
    cancelled(ExitCode.CANCELLED);
  };

  let failure: { error: unknown } | undefined;
  obtainAndServe(options, context, servers, { onShutdown, cancel: shutdown.signal }).catch((error: unknown) => {
    failure ??= { error };
    finished.resolve(ExitCode.FAILURE);
  }).finally(() => {
    obtaining = false;
    // GET /shutdown came as the certificate was being obtained, too late to cancel: it is served, stop now.
    if (shutdown.signal.aborted && !failure) finished.resolve(ExitCode.OK);
  });
  const code = await finished.promise;
  context.endDeadline();
  await Promise.allSettled(servers.map((server) => server.stop()));
  // The wrapper reports it, once every server is closed.
  if (failure) throw failure.error;
  return code;
}

/** How `GET /shutdown` reaches the run: a callback, and the signal that cancels the issuance. */
interface ShutdownControl {
  readonly onShutdown: () => void;
  readonly cancel: AbortSignal;
}

async function obtainAndServe(options: CliOptions, context: CommandContext, servers: Stoppable[], shutdown: ShutdownControl): Promise<void> {
  const { io } = context;
  const progress = (line: string) => options.quiet || io.out(line);
  const { bind, ports } = options;
  // Everything the user can get wrong is found before the CA is asked for anything.
  checkUsableDir(options.outDir, "--out", ["cert.pem", "key.pem"]);
  if (options.stateDir !== undefined) checkUsableDir(options.stateDir, "--state", ["account-key.pem", "account.json"]);
  servers.push(serve({ name: "shutdown server", hostname: bind, port: ports.shutdown, handler: shutdownHandler(shutdown.onShutdown) }));
  // The ETH interface always runs the DNS server (A answers); tls-alpn-01 is answered on the HTTPS port.
  const responders = await startResponders({
    challenge: CHALLENGE_TYPES[options.challenge],
    bind,
    ports: { dns: ports.dns, http: ports.http, tls: ports.https },
    dnsAddress: options.record,
  });
  servers.push(responders);
  // The certificate server needs the certificate to start; its port is held until then.
  const httpsPort = options.challenge === "tls01" ? undefined : reservePort("certificate HTTPS server", bind, ports.https);
  if (httpsPort) servers.push(httpsPort);

  const transport = context.transport(options.directoryUrl);
  if (context.trust) progress(`Trusting the CA roots in ${context.trust.path} (from ${context.trust.source})`);
  // Fetch the directory while the keys are generated; errors surface at the next use.
  transport.getDirectory().catch(() => {});
  const { identifiers, csr, certificateKeys, account, reused, replaces } = await prepareOrder(options, transport);
  progress(`Account ${account.kid}${reused ? ` (reused from ${options.stateDir})` : ""}`);
  const issued = await issueCertificate({
    transport,
    account,
    identifiers,
    solver: responders.solver,
    csr,
    signal: AbortSignal.any([context.deadline, shutdown.cancel]),
    cleanupSignal: context.cleanupDeadline,
    log: progress,
    ...(options.preferredChain !== undefined ? { preferredChain: options.preferredChain } : {}),
    orderExtras: { ...(options.profile !== undefined ? { profile: options.profile } : {}), ...(replaces ? { replaces } : {}) },
  });
  const keyPem = await writeCertificate(options, io, identifiers, issued.pem, certificateKeys);
  if (options.revoke) {
    const leaf = decodePemBlocks(issued.pem).find((block) => block.label === "CERTIFICATE")!;
    await revokeCertificate(transport, account, leaf.der, options.revokeReason);
    io.out(`Certificate revoked${options.revokeReason === undefined ? "" : ` with reason ${options.revokeReason}`} (${issued.certificateUrl})`);
  }
  context.endDeadline();
  await httpsPort?.stop();
  await serveCertificate(options, context, servers, responders, issued.pem, keyPem);
  progress(`${transport.requestCount} requests to the CA (${issued.waitingPolls} of them polls that found work still in progress)`);
  io.out(`Serving the certificate on https://${bind}:${ports.https}/ until GET http://${bind}:${ports.shutdown}/shutdown`);
}

/** The identifiers, CSR and keys (fresh or from the files named), and the account, opened while the CSR is signed. */
async function prepareOrder(options: CliOptions, transport: AcmeTransport) {
  const request = options.csrFile ? readCsrFile(options.csrFile, "--csr") : undefined;
  const identifiers = request
    ? withFlag(`--csr ${options.csrFile}`, () => normalizeIdentifiers(request.names, { challenge: CHALLENGE_TYPES[options.challenge] }))
    : options.identifiers;
  const certificateKeys = options.certKeyFile
    ? await readKeyFile(options.certKeyFile, "--cert-key")
    : request ? undefined : await generateKeyPair(options.keyType);
  const accountKey = options.accountKeyFile ? await readKeyFile(options.accountKeyFile, "--account-key") : undefined;
  const replaces = options.replacesFile !== undefined
    ? withFlag(`--replaces ${options.replacesFile}`, () => ariCertId(readLeafCertificate(options.replacesFile!, "--replaces")))
    : undefined;
  const [{ account, reused }, csr] = await Promise.all([
    openAccount(transport, {
      ...(options.stateDir !== undefined ? { stateDir: options.stateDir } : {}),
      ...(accountKey ? { keyPair: accountKey } : {}),
      keyType: options.accountKeyType,
      contact: options.contact,
      ...(options.eab ? { eab: options.eab } : {}),
    }),
    request?.der ?? createCsr({ identifiers, keyPair: certificateKeys! }),
  ]);
  return { identifiers, csr, certificateKeys, account, reused, replaces };
}

/** Writes `cert.pem` (and `key.pem` when the key is here) together; returns the key PEM. */
async function writeCertificate(
  options: CliOptions,
  io: CommandContext["io"],
  identifiers: readonly Identifier[],
  chain: string,
  certificateKeys: CryptoKeyPair | undefined,
): Promise<string | undefined> {
  const certificatePath = join(options.outDir, "cert.pem");
  const keyPath = join(options.outDir, "key.pem");
  const keyPem = certificateKeys ? await exportPrivateKeyPem(certificateKeys.privateKey) : undefined;
  writeFilesAtomic([...(keyPem ? [{ path: keyPath, data: keyPem, mode: 0o600 }] : []), { path: certificatePath, data: chain, mode: 0o644 }]);
  const names = identifiers.map((identifier) => identifier.value).join(", ");
  io.out(`Certificate for ${names} written to ${certificatePath}${keyPem ? ` (key: ${keyPath})` : " (the key stays with the CSR's owner)"}`);
  return keyPem;
}

/** The certificate server takes the HTTPS port over from the tls-alpn-01 responder, if there was one. */
async function serveCertificate(
  options: CliOptions,
  context: CommandContext,
  servers: Stoppable[],
  responders: { servers: readonly RunningServer[] },
  certificate: string,
  keyPem: string | undefined,
): Promise<void> {
  const tlsResponder = options.challenge === "tls01" ? responders.servers.find((server) => server.port === options.ports.https) : undefined;
  if (tlsResponder) await tlsResponder.stop();
  if (!keyPem) {
    context.io.out("Not serving the certificate over HTTPS: its key came with the CSR and is not here (give it with --cert-key)");
    return;
  }
  servers.push(serve({
    name: "certificate HTTPS server",
    hostname: options.bind,
    port: options.ports.https,
    handler: certificateHandler,
    tls: { certificate, privateKey: keyPem },
  }));
}
