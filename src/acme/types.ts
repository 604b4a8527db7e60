/**
 * RFC 8555 objects as TypeScript types, with literal unions for every status.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1
 */

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.1 */
export interface Directory {
  readonly newNonce: string;
  readonly newAccount: string;
  readonly newOrder: string;
  /** Required by RFC 8555, checked where it is used. */
  readonly revokeCert?: string;
  /** Required by RFC 8555, checked where it is used. */
  readonly keyChange?: string;
  readonly newAuthz?: string;
  /** ARI, RFC 9773 §4. */
  readonly renewalInfo?: string;
  readonly meta?: {
    readonly termsOfService?: string;
    readonly website?: string;
    readonly caaIdentities?: readonly string[];
    readonly externalAccountRequired?: boolean;
    readonly profiles?: Readonly<Record<string, string>>;
  };
}

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-9.7.7 and RFC 8738 */
export interface Identifier {
  readonly type: "dns" | "ip";
  readonly value: string;
}

/** An RFC 7807 problem document with the ACME extensions. @see https://www.rfc-editor.org/rfc/rfc8555#section-6.7 */
export interface AcmeProblem {
  readonly type: string;
  readonly detail?: string;
  readonly status?: number;
  readonly instance?: string;
  readonly identifier?: Identifier;
  readonly subproblems?: readonly AcmeProblem[];
  /**
   * Extension members, as the CA sent them (RFC 7807 §3.2): e.g. `algorithms` with
   * `badSignatureAlgorithm` (RFC 8555 §6.2). Kept so that the document stays whole.
   */
  readonly [extension: string]: unknown;
}

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.2 */
export interface Account {
  readonly status: "valid" | "deactivated" | "revoked";
  readonly contact?: readonly string[];
  readonly termsOfServiceAgreed?: boolean;
  readonly orders?: string;
}

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3 */
export interface Order {
  readonly status: "pending" | "ready" | "processing" | "valid" | "invalid";
  readonly expires?: string;
  readonly identifiers: readonly Identifier[];
  readonly notBefore?: string;
  readonly notAfter?: string;
  readonly error?: AcmeProblem;
  readonly authorizations: readonly string[];
  readonly finalize: string;
  readonly certificate?: string;
}

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.4 */
export interface Authorization {
  readonly identifier: Identifier;
  readonly status: "pending" | "valid" | "invalid" | "deactivated" | "expired" | "revoked";
  readonly expires?: string;
  readonly challenges: readonly Challenge[];
  readonly wildcard?: boolean;
}

/** Challenge types this client can answer. @see https://www.rfc-editor.org/rfc/rfc8555#section-8 */
export type ChallengeType = "http-01" | "dns-01" | "tls-alpn-01";

/** @see https://www.rfc-editor.org/rfc/rfc8555#section-8 */
export interface Challenge {
  readonly type: string;
  readonly url: string;
  readonly status: "pending" | "processing" | "valid" | "invalid";
  readonly token: string;
  readonly validated?: string;
  readonly error?: AcmeProblem;
}

/** A resource fetched from the CA, with its URL and the server's polling hint. */
export interface Fetched<T> {
  readonly url: string;
  readonly body: T;
  /** From `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;
}
