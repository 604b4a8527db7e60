/**
 * The ACME problem types, in one catalogue: code compares `problem.type` with these, never with
 * strings of its own, and never with message text.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.7
 * @see https://www.iana.org/assignments/acme/acme.xhtml#acme-error-types
 */

/** The namespace of every ACME problem type. */
export const ACME_ERROR_PREFIX = "urn:ietf:params:acme:error:";

/** The short names of the problem types RFC 8555 §6.7 and its extensions register. */
export const PROBLEM_TYPES = [
  "accountDoesNotExist",
  "alreadyReplaced",
  "alreadyRevoked",
  "badCSR",
  "badNonce",
  "badPublicKey",
  "badRevocationReason",
  "badSignatureAlgorithm",
  "caa",
  "compound",
  "connection",
  "dns",
  "externalAccountRequired",
  "incorrectResponse",
  "invalidContact",
  "invalidProfile",
  "malformed",
  "orderNotReady",
  "rateLimited",
  "rejectedIdentifier",
  "serverInternal",
  "tls",
  "unauthorized",
  "unsupportedContact",
  "unsupportedIdentifier",
  "userActionRequired",
] as const;

/** A registered problem type's short name, e.g. `badNonce`. */
export type ProblemType = (typeof PROBLEM_TYPES)[number];

/**
 * The full URN of a problem type.
 *
 * @example problemUrn("badNonce") // "urn:ietf:params:acme:error:badNonce"
 */
export function problemUrn(type: ProblemType): string {
  return `${ACME_ERROR_PREFIX}${type}`;
}

/**
 * `urn:ietf:params:acme:error:badNonce` → `badNonce`; other URNs are returned whole.
 *
 * @example shortProblemType("urn:ietf:params:acme:error:badCSR") // "badCSR"
 */
export function shortProblemType(type: string): string {
  return type.startsWith(ACME_ERROR_PREFIX) ? type.slice(ACME_ERROR_PREFIX.length) : type;
}

/** Whether a problem document (or anything with a `type`) is of the given registered type. */
export function isProblemType(problem: { readonly type: string } | undefined, type: ProblemType): boolean {
  return problem?.type === problemUrn(type);
}
