/**
 * Challenge solvers, one per type, each with `present` and `cleanup`.
 * @module
 */
export { dns01RecordName, dns01TxtValue, Dns01Solver } from "./dns01.ts";
export { HTTP01_PATH_PREFIX, Http01Solver, requestUrl } from "./http01.ts";
export { WebrootSolver } from "./webroot.ts";
export { ACME_TLS_ALPN_PROTOCOL, TlsAlpn01Solver, tlsAlpnCertificate, tlsAlpnServerName, type PemCertificate } from "./tls-alpn01.ts";
export { Rfc2136Solver, type Rfc2136Options } from "./rfc2136.ts";
export { DnsHookError, ExecDnsSolver } from "./dns-hook.ts";
