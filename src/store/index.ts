/**
 * What outlives a run: crash-safe file writes, the persistent account, and the certificate store
 * (an interface, with the file store as its embedded default).
 * @module
 */
export { accountKeyPath, fileAccountStorage, openAccount, saveAccountKey, type AccountRecord, type AccountStorage, type OpenAccountOptions } from "./account-state.ts";
export { writeFileAtomic, writeFilesAtomic, type FileToWrite } from "./atomic-files.ts";
export type { CertificateStore, LineageSummary, LoadedLineages, SaveOptions, SharedChallenges } from "./certificate-store.ts";
export { acquireFileLock, LockHeldError, LockLostError, type LockHolder, type LockOptions, type StoreLock } from "./file-lock.ts";
export { chainFiles, defaultStoreDir, FileCertificateStore } from "./file-store.ts";
export { MemoryCertificateStore } from "./memory-store.ts";
export { checkOwnedPath, makePrivateDir } from "./file-permissions.ts";
export { PostgresCertificateStore, type PostgresStoreOptions } from "./postgres-store.ts";
export { RedisCertificateStore, type RedisStoreOptions } from "./redis-store.ts";
export {
  checkLineageName,
  cliExtras,
  defaultLineageName,
  parseLineageConfig,
  parseLineageMeta,
  readLineageConfig,
  sameIdentifiers,
  serializeLineageConfig,
  StoreError,
  type LineageCliExtras,
  type LineageConfig,
  type LineageHooks,
  type LineageMeta,
  type StoredLineage,
} from "./lineage.ts";
export type { DnsHookSolverSpec, ExternalSolverSpec, ResponderSolverSpec, Rfc2136SolverSpec, SolverSpec, WebrootSolverSpec } from "./solver-spec.ts";
export { isSharedStoreLocation, openStore, type StoreOpenOptions } from "./open-store.ts";
export { maskSecrets } from "./secrets.ts";
export { StoreUnavailableError } from "./unavailable.ts";
export { ARCHIVED_VERSIONS, type ArchivedVersion } from "./file-archive.ts";
