/**
 * Typed errors: one base class with a stable `code`, one subclass per kind of failure.
 * Code branches on `code` and on the problem `type`, never on message text.
 */
import { isProblemType, shortProblemType, type ProblemType } from "./problems.ts";
import { BunAcmeError } from "../errors/index.ts";
import type { AcmeProblem, Identifier } from "./types.ts";

/** Base of every error this client raises about the CA or the protocol. */
export class AcmeError extends BunAcmeError {}

/**
 * The CA answered with a problem document. The document is kept whole.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.7
 */
export class AcmeProblemError extends AcmeError {
  readonly problem: AcmeProblem;
  /** HTTP status of the response. */
  readonly status: number;
  /** The request URL. */
  readonly url: string;
  /** When the CA said to try again (`Retry-After`), e.g. for `rateLimited`. */
  readonly retryAfter: Date | undefined;

  constructor(problem: AcmeProblem, status: number, url: string, retryAfter?: Date) {
    const wait = retryAfter ? `; the CA asks to retry after ${retryAfter.toISOString()}` : "";
    super("ERR_ACME_PROBLEM", `The CA refused the request to ${url}: ${formatProblem(problem)}${wait}`);
    this.problem = problem;
    this.status = status;
    this.url = url;
    this.retryAfter = retryAfter;
  }

  /** The problem type without the `urn:ietf:params:acme:error:` prefix, e.g. `badNonce`. */
  get shortType(): string {
    return shortProblemType(this.problem.type);
  }

  /**
   * Whether the CA's problem is of a registered type.
   *
   * @example if (error instanceof AcmeProblemError && error.is("alreadyRevoked")) { ... }
   */
  is(type: ProblemType): boolean {
    return isProblemType(this.problem, type);
  }
}

/** The CA could not be reached: connection refused, reset, DNS failure, timeout. */
export class AcmeConnectionError extends AcmeError {
  readonly url: string;
  /** No (whole) answer came within the request's time limit. */
  readonly timedOut: boolean;
  /**
   * The request may have reached the CA (a timeout, a connection reset or closed mid-exchange),
   * as opposed to a connection that was never made (refused, no route, no address): the CA may
   * have acted on it.
   */
  readonly mayHaveArrived: boolean;
  constructor(url: string, reason: string, options?: ErrorOptions, timedOut = false, mayHaveArrived = timedOut) {
    super("ERR_ACME_CONNECTION", `Cannot connect to ${url}: ${reason}`, options);
    this.url = url;
    this.timedOut = timedOut;
    this.mayHaveArrived = mayHaveArrived;
  }
}

/** The CA's TLS certificate failed verification. Never retried. */
export class AcmeTlsError extends AcmeError {
  readonly url: string;
  constructor(url: string, reason: string, options?: ErrorOptions) {
    super(
      "ERR_ACME_TLS",
      `Cannot connect to ${url}: the CA's TLS certificate is not trusted (${reason}); give its root certificate with --ca FILE`,
      options,
    );
    this.url = url;
  }
}

/** The CA sent something RFC 8555 does not allow (missing header, wrong status, malformed body). */
export class AcmeProtocolError extends AcmeError {
  /** @param options `cause`: the {@link FieldError} naming the field, when a field was wrong */
  constructor(message: string, options?: ErrorOptions) {
    super("ERR_ACME_PROTOCOL", message, options);
  }
}

/**
 * The CA's certificate failed a check the client makes before it writes or serves anything
 * (another key, other names, expired, a broken chain, not PEM). `reason` says which.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4.2
 */
export class AcmeCertificateError extends AcmeError {
  readonly url: string;
  readonly reason: string;
  constructor(url: string, reason: string) {
    super("ERR_ACME_CERTIFICATE", `The certificate from ${url} was refused, nothing was written: ${reason}`);
    this.url = url;
    this.reason = reason;
  }
}

/**
 * An authorization could not be completed: its challenge failed validation, or the CA offered
 * no challenge of the requested type.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.1
 */
export class AcmeAuthorizationError extends AcmeError {
  readonly identifier: Identifier;
  readonly challengeType: string;
  /** The CA's problem document from the challenge or authorization, when it sent one. */
  readonly problem: AcmeProblem | undefined;

  constructor(identifier: Identifier, challengeType: string, reason: string, problem?: AcmeProblem) {
    super(
      "ERR_ACME_AUTHORIZATION",
      `Authorization of ${identifier.type} ${identifier.value} with ${challengeType} failed: ${problem ? formatProblem(problem) : reason}`,
    );
    this.identifier = identifier;
    this.challengeType = challengeType;
    this.problem = problem;
  }
}

/** The order became `invalid`, with the CA's problem when it gave one. @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.6 */
export class AcmeOrderError extends AcmeError {
  readonly orderUrl: string;
  readonly problem: AcmeProblem | undefined;
  constructor(orderUrl: string, problem: AcmeProblem | undefined) {
    super("ERR_ACME_ORDER", `The order ${orderUrl} became invalid: ${problem ? formatProblem(problem) : "the CA gave no reason"}`);
    this.orderUrl = orderUrl;
    this.problem = problem;
  }
}

/** Waiting for the CA took longer than allowed. */
export class AcmeTimeoutError extends AcmeError {
  constructor(what: string, seconds: number) {
    super("ERR_ACME_TIMEOUT", `Gave up waiting for ${what} after ${seconds} s`);
  }
}

/**
 * One line describing a problem document: type, detail, and each subproblem with its identifier.
 *
 * @example formatProblem({ type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "policy forbids" })
 * // "rejectedIdentifier: policy forbids"
 */
export function formatProblem(problem: AcmeProblem): string {
  let text = `${shortProblemType(problem.type)}: ${problem.detail ?? "(no detail)"}`;
  for (const sub of problem.subproblems ?? []) {
    const who = sub.identifier ? `${sub.identifier.type} ${sub.identifier.value}: ` : "";
    text += `; ${who}${shortProblemType(sub.type)}: ${sub.detail ?? "(no detail)"}`;
  }
  return text.replace(/\s*\n\s*/g, " ");
}
