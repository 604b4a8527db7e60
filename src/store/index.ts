/**
 * What outlives a run, on the file system: crash-safe file writes and the persistent account.
 * @module
 */
export { accountKeyPath, openAccount, saveAccountKey, type AccountRecord, type OpenAccountOptions } from "./account-state.ts";
export { writeFileAtomic, writeFilesAtomic, type FileToWrite } from "./atomic-files.ts";
