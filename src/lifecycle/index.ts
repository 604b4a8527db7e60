/**
 * The life of a certificate: the one engine that obtains and renews a lineage (`ensureLineage`),
 * the issuer it obtains from (or an ordered list of them, falling back), the check that a lineage's key and chain belong together, and the
 * renewal schedule (ARI, else a third of its lifetime left).
 * @module
 */
export { ensureLineage, inspect, type EnsureOptions, type LineageOutcome, type OrderUse } from "./ensure.ts";
export { lineageDamage, type LineageDamage } from "./integrity.ts";
export { isCaSideFailure, IssuerChain, type IssuerChainOptions } from "./issuer-chain.ts";
export { Issuer, type IssueLineageOptions, type IssuerOptions } from "./issuer.ts";
export { obtainLineage, type ObtainOptions } from "./obtain.ts";
export { isDue, needsRenewalInfo, scheduleRenewal, type Schedule } from "./schedule.ts";
