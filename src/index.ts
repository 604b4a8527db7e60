/**
 * bun-acme: an ACME (RFC 8555) client for Bun with zero runtime dependencies.
 *
 * The curated API: what a program needs to get a certificate (a transport to the CA, an account,
 * a certificate key and CSR, a challenge solver and its responder, the flow), to keep it
 * (accounts on disk, crash-safe writes, renewal information, revocation), and the typed errors.
 *
 * @example
 * ```ts
 * import { AcmeTransport, createCsr, generateKeyPair, issueCertificate, openAccount, startResponders } from "bun-acme";
 *
 * const transport = new AcmeTransport({ directoryUrl: "letsencrypt-staging" });
 * const { account } = await openAccount(transport, { contact: ["mailto:admin@example.net"] });
 * const identifiers = [{ type: "dns", value: "example.net" }] as const;
 * const keyPair = await generateKeyPair("ec256");
 * const responders = await startResponders({ challenge: "http-01", bind: "0.0.0.0" });
 * try {
 *   const { pem } = await issueCertificate({ transport, account, identifiers, solver: responders.solver, csr: await createCsr({ identifiers, keyPair }) });
 * } finally {
 *   await responders.stop();
 * }
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc8555
 * @module
 */

// The protocol: transport → endpoints → flow.
export {
  AcmeTransport,
  issueCertificate,
  keyAuthorization,
  registerAccount,
  findAccount,
  rollAccountKey,
  updateAccount,
  getAccount,
  deactivateAccount,
  revokeCertificate,
  parseRevocationReason,
  REVOCATION_REASONS,
  ariCertId,
  getRenewalInfo,
  chooseRenewalTime,
  newOrder,
  getOrder,
  getAuthorization,
  respondToChallenge,
  deactivateAuthorization,
  finalizeOrder,
  downloadCertificate,
  topIssuerCommonName,
  type AcmeAccount,
  type AcmeResponse,
  type AcmeSigner,
  type AcmeTransportOptions,
  type CertificateDownload,
  type ChallengeSolver,
  type Clock,
  type Timer,
  type TimerClock,
  type ExternalAccountBinding,
  type FetchFunction,
  type IssuedCertificate,
  type IssueOptions,
  type Link,
  type NewAccountRequest,
  type NewOrderExtras,
  type PollOptions,
  type PostOptions,
  type RenewalAdvice,
  type RenewalInfo,
  type RetryOptions,
} from "./acme/index.ts";

// Names and CAs.
export {
  CA_PRESETS,
  resolveDirectory,
  normalizeDomain,
  normalizeIdentifiers,
  parseIdentifier,
  type CaPreset,
  type CaPresetName,
  type IdentifierRules,
  type ResolvedDirectory,
} from "./acme/index.ts";

// RFC 8555 objects and problem documents.
export {
  isProblemType,
  PROBLEM_TYPES,
  problemUrn,
  shortProblemType,
  type Account,
  type AcmeProblem,
  type Authorization,
  type Challenge,
  type ChallengeType,
  type Directory,
  type Fetched,
  type Identifier,
  type Order,
  type ProblemType,
  checkIssuedChain,
  type ChainExpectations,
  type CheckedChain,
} from "./acme/index.ts";

// Errors: one root, `BunAcmeError`, with a stable `code`; every failure below extends it.
export { BunAcmeError } from "./errors/index.ts";
// The cause of a StoreError or AcmeProtocolError about one field: the document, the field, what was expected.
export { FieldError } from "./validate/index.ts";
export {
  AcmeAuthorizationError,
  AcmeCertificateError,
  AcmeConnectionError,
  AcmeError,
  AcmeOrderError,
  AcmeProblemError,
  AcmeProfileError,
  AcmeProtocolError,
  AcmeTimeoutError,
  AcmeTlsError,
  formatProblem,
} from "./acme/index.ts";

// Keys, CSRs and certificates.
export { ACCOUNT_KEY_TYPES, exportPrivateKeyPem, exportPublicJwk, generateKeyPair, jwkThumbprint, KEY_TYPES, type FlattenedJws, type KeyType, type PublicJwk } from "./jose/index.ts";
export { createCsr, importPrivateKeyPem, parseCsr, readCertificate, readCsr, verifyCertificateSignature, type CertificateInfo, type CsrInfo, type CsrOptions, type ParsedCsr } from "./asn1/index.ts";
export { decodePemBlocks, encodePem, type PemBlock } from "./encoding/index.ts";

// Challenge solvers and the servers that answer the CA.
export { dns01RecordName, dns01TxtValue, Dns01Solver, Http01Solver, TlsAlpn01Solver, tlsAlpnServerName } from "./challenges/index.ts";
// Solvers that publish answers elsewhere: a web server's folder, your name servers (RFC 2136 with TSIG), a command of yours.
export { DnsHookError, ExecDnsSolver, Rfc2136Solver, WebrootSolver, type PemCertificate, type Rfc2136Options } from "./challenges/index.ts";
export { DnsClientError, DnsUpdateError, parseTsigKey, type TsigAlgorithm, type TsigKey, type UpdateTarget } from "./dns/index.ts";
export { startResponders, ServerStartError, VALIDATION_PORTS, type Responders, type ResponderOptions, type RunningServer } from "./servers/index.ts";
export { HotTlsServer, IdleCollector, type HotTlsServerOptions, type IdleClock, type IdleCollectorOptions, type ServedCertificate, type SwapMode } from "./servers/index.ts";
export { CertificateServerView, TlsFrontServer, type SwappableCertificates, type TlsFrontOptions } from "./servers/index.ts";
// Hooks run as certbot runs them (scrubbed environment, own process group, time limit), and trust roots read once.
export { DEFAULT_HOOK_TIMEOUT_SECONDS, deployHookEnv, hookEnvironment, runHook, type HookOptions, type HookResult } from "./hooks/index.ts";
export { readTrustRoots, TrustRootsError } from "./trust/index.ts";
// The reverse proxy the daemon puts in front of applications, for manage() users too.
export { createReverseProxy, createWebSocketProxy, isWebSocketUpgrade, type Probe, type ProxyConnection, type ProxyFetch, type ProxyLogEntry, type ProxySite, type ReverseProxy, type ReverseProxyOptions, type WebSocketProxy, type WebSocketProxyData } from "./servers/index.ts";

// Automatic HTTPS: obtain, serve, renew and hot-swap in one call.
export { manage, type CertificateServer, type IssuerEntry, type Managed, type ManagedCertificate, type ManageEvent, type ManageOptions, type OnDemandOptions } from "./manage/index.ts";
// The daemon (`bun-acme serve`) from code: its TOML configuration checked into a typed value, and startDaemon() with reload() and stop().
export {
  ConfigError,
  parseServeConfig,
  readServeConfig,
  startDaemon,
  type DaemonOptions,
  type IssuerConfig,
  type OnDemandConfig,
  type OnDemandSiteConfig,
  type RunningDaemon,
  type ServeConfig,
  type SiteConfig,
} from "./daemon/index.ts";
// Metrics and health: Prometheus' text format fed by manage()'s events, and `/metrics` + `/healthz` as a handler.
export { adminHandler, CertificateMetrics, type AdminOptions, type ExpiryProblem, type MetricsEvent } from "./metrics/index.ts";

// What outlives a run: the account, and the certificate store (an interface; files by default, Redis or PostgreSQL for a fleet).
export {
  ARCHIVED_VERSIONS,
  defaultStoreDir,
  FileCertificateStore,
  isSharedStoreLocation,
  LockHeldError,
  LockLostError,
  MemoryCertificateStore,
  openAccount,
  openStore,
  PostgresCertificateStore,
  readLineageConfig,
  RedisCertificateStore,
  saveAccountKey,
  serializeLineageConfig,
  StoreError,
  StoreUnavailableError,
  writeFileAtomic,
  writeFilesAtomic,
  type AccountRecord,
  type AccountStorage,
  type ArchivedVersion,
  type CertificateStore,
  type FileToWrite,
  type DnsHookSolverSpec,
  type ExternalSolverSpec,
  type LineageCliExtras,
  type LineageConfig,
  type LineageHooks,
  type LineageMeta,
  type LineageSummary,
  type LoadedLineages,
  type LockHolder,
  type LockOptions,
  type OpenAccountOptions,
  type PostgresStoreOptions,
  type RedisStoreOptions,
  type ResponderSolverSpec,
  type Rfc2136SolverSpec,
  type SaveOptions,
  type SharedChallenges,
  type SolverSpec,
  type StoreLock,
  type StoreOpenOptions,
  type StoredLineage,
  type WebrootSolverSpec,
} from "./store/index.ts";
// The engine, and the one event type for manage()'s onEvent, the CLI's --json and the daemon (one JSON line each).
export {
  ensureLineage,
  eventLine,
  isCaSideFailure,
  isDue,
  Issuer,
  IssuerChain,
  lineageDamage,
  obtainLineage,
  outcomeEvent,
  parseEventLine,
  scheduleRenewal,
  stampEvent,
  type EnsureOptions,
  type EventCertificate,
  type EventFailure,
  type EventHead,
  type EventOf,
  type EventRenewalAdvice,
  type EventSubject,
  type IssueLineageOptions,
  type IssuerChainOptions,
  type IssuerOptions,
  type LineageDamage,
  type LifecycleEvent,
  type LifecycleEventType,
  type LineageOutcome,
  type ObtainOptions,
  type OrderUse,
  type Schedule,
  type Untimed,
  type UntimedEvent,
} from "./lifecycle/index.ts";
