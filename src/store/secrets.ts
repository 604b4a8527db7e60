/**
 * Secrets out of every line bun-acme prints: a store URL's password (in its userinfo or a query
 * parameter that looks like one), and an inline TSIG key's secret. Masked as `***`, even in a URL
 * that does not parse (the message saying so must not print the password either).
 */

/** Query parameters whose values are secrets (`?password=`, `sslpassword`, `token`, `api_key`...). */
const SECRET_PARAMETER = /([?&;](?:[a-z0-9_.-]*(?:pass(?:word|wd)?|pwd|secret|token|auth|credential|api[_-]?key|private[_-]?key))=)[^&#\s"']*/gi;
/** `scheme://user:password@`: everything up to the last `@` of the token, so that an unencoded `@` or `/` in a password is masked too. */
const USERINFO_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s"'@/:?#]*):[^\s"']*@/gi;
/** `hmac-sha256:name:secret`, as `--tsig` takes it. */
const INLINE_TSIG = /\b(hmac-[a-z0-9-]+:[^:\s"']+:)[A-Za-z0-9+/=]+/gi;

/**
 * `text` with passwords, secret-looking query parameters and TSIG secrets replaced by `***`.
 *
 * @example maskSecrets("redis://app:hunter2@10.0.0.5:6379") // "redis://app:***@10.0.0.5:6379"
 */
export function maskSecrets(text: string): string {
  return text.replace(USERINFO_PASSWORD, "$1$2:***@").replace(SECRET_PARAMETER, "$1***").replace(INLINE_TSIG, "$1***");
}
