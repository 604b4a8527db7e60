/**
 * The command-line interface.
 * @module
 */
export { DEFAULT_PORTS, normalizeDomain, normalizeIdentifier, parseArgs, UsageError, USAGE, type ChallengeOption, type CliOptions, type ParsedCommand, type AccountOptions, type RenewalInfoOptions, type RevokeOptions } from "./args.ts";
export { readInputText, readLeafCertificate } from "./input-files.ts";
export { runAccountCommand } from "./account.ts";
export { accountKeyPath, openAccount, saveAccountKey, type AccountRecord, type OpenAccountOptions } from "./account-state.ts";
export { runRenewalInfoCommand } from "./renewal-info.ts";
export { importPrivateKeyPem } from "./keys.ts";
export { runRevokeCommand } from "./revoke.ts";
export { writeFileAtomic, writeFilesAtomic, type FileToWrite } from "./files.ts";
export { main } from "./main.ts";
export { describeError, ExitCode, exitCodeFor, runIssueCommand, type CommandIo } from "./run.ts";
export { commandTransport, GRADING_ROOT_FILE, resolveTrustRoots, type TrustRoots } from "./trust.ts";
