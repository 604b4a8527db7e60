/**
 * The life of a certificate after it is issued: obtaining a lineage's certificate with a new key,
 * and scheduling its renewal (ARI, else a third of its lifetime left).
 * @module
 */
export { obtainLineage, type ObtainOptions } from "./obtain.ts";
export { isDue, needsRenewalInfo, scheduleRenewal, type Schedule } from "./schedule.ts";
