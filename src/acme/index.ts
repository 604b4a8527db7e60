/**
 * The ACME client, in three layers: transport (nonces, JWS, badNonce) → endpoints (one function
 * per RFC 8555 resource) → flow (order to certificate).
 * @module
 */
export { findAccount, registerAccount, rollAccountKey, type AcmeAccount, type ExternalAccountBinding } from "./account.ts";
export {
  AcmeProfileError,
  changeAccountKey,
  deactivateAccount,
  deactivateAuthorization,
  downloadCertificate,
  finalizeOrder,
  getAccount,
  getAuthorization,
  getOrder,
  newAccount,
  newOrder,
  respondToChallenge,
  revokeCertificate,
  updateAccount,
  type CertificateDownload,
  type Fetched,
  type NewAccountRequest,
  type NewOrderExtras,
} from "./endpoints.ts";
export {
  AcmeAuthorizationError,
  AcmeConnectionError,
  AcmeError,
  AcmeOrderError,
  AcmeProblemError,
  AcmeProtocolError,
  AcmeTimeoutError,
  AcmeTlsError,
  formatProblem,
  shortProblemType,
} from "./errors.ts";
export { issueCertificate, keyAuthorization, topIssuerCommonName, type ChallengeSolver, type IssuedCertificate, type IssueOptions } from "./flow.ts";
export { NoncePool } from "./nonce-pool.ts";
export { ariCertId, chooseRenewalTime, getRenewalInfo, type RenewalAdvice, type RenewalInfo } from "./renewal-info.ts";
export { parseRevocationReason, REVOCATION_REASONS } from "./revocation.ts";
export { DEFAULT_INITIAL_DELAY_MS, pollUntil, sleep, type PollOptions } from "./poll.ts";
export {
  AcmeTransport,
  parseLinks,
  parseRetryAfter,
  type AcmeResponse,
  type AcmeSigner,
  type AcmeTransportOptions,
  type FetchFunction,
  type Link,
  type RetryOptions,
} from "./transport.ts";
export type { Account, AcmeProblem, Authorization, Challenge, ChallengeType, Directory, Identifier, Order } from "./types.ts";
