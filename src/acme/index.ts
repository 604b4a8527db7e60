/**
 * The ACME client, in three layers: transport (nonces, JWS, badNonce, retries) → endpoints (one
 * function per RFC 8555 resource) → flow (order to certificate); with accounts, identifier
 * rules, CA presets, renewal information and revocation beside them.
 * @module
 */
export { findAccount, registerAccount, rollAccountKey, type AcmeAccount, type ExternalAccountBinding } from "./account.ts";
export { sleep, systemClock, type Clock, type Timer, type TimerClock } from "./clock.ts";
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
  type NewAccountRequest,
  type NewOrderExtras,
} from "./endpoints.ts";
export {
  AcmeAuthorizationError,
  AcmeCertificateError,
  AcmeConnectionError,
  AcmeError,
  AcmeOrderError,
  AcmeProblemError,
  AcmeProtocolError,
  AcmeTimeoutError,
  AcmeTlsError,
  formatProblem,
} from "./errors.ts";
export { topIssuerCommonName } from "./chains.ts";
export { checkIssuedChain, type ChainExpectations, type CheckedChain } from "./certificate-check.ts";
export { issueCertificate, keyAuthorization, type ChallengeSolver, type IssuedCertificate, type IssueOptions } from "./flow.ts";
export { normalizeDomain, normalizeIdentifiers, parseIdentifier, type IdentifierRules } from "./identifiers.ts";
export { parseAccount, parseAuthorization, parseChallenge, parseDirectory, parseOrder, parseProblem } from "./parse.ts";
export { type PollOptions } from "./poll.ts";
export { CA_PRESETS, resolveDirectory, type CaPreset, type CaPresetName, type ResolvedDirectory } from "./presets.ts";
export { isProblemType, PROBLEM_TYPES, problemUrn, shortProblemType, type ProblemType } from "./problems.ts";
export { ariCertId, chooseRenewalTime, getRenewalInfo, type RenewalAdvice, type RenewalInfo } from "./renewal-info.ts";
export { parseRevocationReason, REVOCATION_REASONS } from "./revocation.ts";
export {
  AcmeTransport,
  parseRetryAfter,
  type AcmeResponse,
  type AcmeSigner,
  type AcmeTransportOptions,
  type FetchFunction,
  type Link,
  type PostOptions,
  type RetryOptions,
} from "./transport.ts";
export type { Account, AcmeProblem, Authorization, Challenge, ChallengeType, Directory, Fetched, Identifier, Order } from "./types.ts";
