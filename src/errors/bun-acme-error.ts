/**
 * The one root of bun-acme's errors, as panva/jose has `JOSEError`: a program tells bun-acme's
 * failures from any other with one `instanceof`, and branches on the stable `code`, never on text.
 */

/**
 * Base of every error bun-acme raises for a failure: the CA or the protocol (`AcmeError`), the
 * store (`StoreError`), a server that cannot start, a name server, a dns-01 hook, the command
 * line and its configuration. Its message is one line a user can act on.
 *
 * Mistakes in a caller's arguments are the platform's own `TypeError`, `RangeError` and
 * `SyntaxError` instead (`DerError` and `DnsFormatError`, for malformed DER and DNS messages, are
 * `SyntaxError`s that carry a `code` too).
 *
 * @example
 * ```ts
 * try {
 *   await issueCertificate(options);
 * } catch (error) {
 *   if (error instanceof BunAcmeError && error.code === "ERR_STORE_LOCKED") return; // another instance is at it
 *   throw error;
 * }
 * ```
 */
export class BunAcmeError extends Error {
  /** What failed, stable across versions: `ERR_ACME_PROBLEM`, `ERR_STORE_LOCKED`, `ERR_USAGE`, ... */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
