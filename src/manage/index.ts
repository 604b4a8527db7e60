/**
 * Automatic HTTPS for Bun programs: `manage()` obtains, serves, renews and hot-swaps certificates.
 * @module
 */
export { manage, type IssuerEntry, type Managed, type ManagedCertificate, type ManageEvent, type ManageOptions, type OnDemandOptions } from "./manage.ts";
export type { CertificateServer } from "./renewer.ts";
export { Backoff, jitteredDelay } from "./timing.ts";
export { redirectingHandler, SharedHttp01Solver } from "./shared-http01.ts";
