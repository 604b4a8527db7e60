/**
 * Identifier rules: what a name must look like before it goes into an order, in one place for the
 * library and the command line.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3
 * @see https://www.rfc-editor.org/rfc/rfc8738 (IP identifiers)
 */
import { formatIp, tryParseIp } from "../encoding/index.ts";
import type { ChallengeType, Identifier } from "./types.ts";

/** What the names will be proven with: wildcards need dns-01, IP addresses cannot use it. */
export interface IdentifierRules {
  readonly challenge?: ChallengeType;
}

/** Longest DNS name in text form (RFC 1035 §2.3.4: 255 octets on the wire). */
const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

/**
 * Reads one name as an ACME identifier: an IPv4 or IPv6 address (also in brackets) becomes an
 * `ip` identifier in canonical form, anything else a `dns` identifier checked by
 * {@link normalizeDomain}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8738#section-3
 * @example parseIdentifier("WWW.Example.NET.") // { type: "dns", value: "www.example.net" }
 * @example parseIdentifier("[2001:DB8::1]") // { type: "ip", value: "2001:db8::1" }
 * @throws {SyntaxError} for a malformed name
 * @throws {RangeError} for a name too long, or one the challenge cannot prove
 */
export function parseIdentifier(text: string, rules: IdentifierRules = {}): Identifier {
  if (typeof text !== "string") throw new TypeError(`Cannot use identifier: expected a string, got ${typeof text}`);
  const bytes = tryParseIp(text.replace(/^\[(.*)\]$/, "$1"));
  if (!bytes) return { type: "dns", value: normalizeDomain(text, rules) };
  if (rules.challenge === "dns-01") {
    throw new RangeError(`Cannot use identifier "${text}": an IP address cannot be proven with dns-01 (RFC 8738 §7); use http-01 or tls-alpn-01`);
  }
  return { type: "ip", value: formatIp(bytes) };
}

/**
 * Checks and normalizes a DNS name: lowercase, no trailing dot, letter-digit-hyphen labels of
 * 1-63 characters, at most 253 characters, `*` only as the whole leftmost label, and wildcards
 * only with dns-01.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1123#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3 (wildcards)
 * @throws {SyntaxError} for a malformed name
 * @throws {RangeError} for a name or label too long, or a wildcard with another challenge
 */
export function normalizeDomain(text: string, rules: IdentifierRules = {}): string {
  const name = text.toLowerCase().replace(/\.$/, "");
  const fail = (ErrorClass: typeof SyntaxError | typeof RangeError, reason: string): never => {
    throw new ErrorClass(`Cannot use identifier "${text}": ${reason}`);
  };
  if (name === "") fail(SyntaxError, "the name is empty");
  if (name.length > MAX_NAME_LENGTH) fail(RangeError, `the name is longer than ${MAX_NAME_LENGTH} characters`);
  const labels = name.split(".");
  labels.forEach((label, index) => {
    if (label === "") fail(SyntaxError, "it has an empty label");
    if (label.length > MAX_LABEL_LENGTH) fail(RangeError, `it has a label longer than ${MAX_LABEL_LENGTH} characters`);
    if (label === "*" && index === 0) return;
    if (label.includes("*")) fail(SyntaxError, "a wildcard must be the whole leftmost label, as in *.example.net");
    if (!LDH_LABEL.test(label)) fail(SyntaxError, `label "${label}" may hold only letters, digits and inner hyphens`);
  });
  if (labels[0] === "*" && labels.length < 2) fail(SyntaxError, 'a wildcard needs a name after "*."');
  if (labels[0] === "*" && rules.challenge !== undefined && rules.challenge !== "dns-01") {
    fail(RangeError, "a wildcard can be proven only with dns-01");
  }
  return name;
}

/**
 * Normalizes several names (see {@link parseIdentifier}) and drops repeats, keeping the first
 * occurrence's order.
 *
 * @example normalizeIdentifiers(["a.test", "A.TEST.", "127.0.0.1"]) // [{ type: "dns", value: "a.test" }, { type: "ip", value: "127.0.0.1" }]
 * @throws {SyntaxError} for a malformed name
 * @throws {RangeError} for an empty list, a name too long, or one the challenge cannot prove
 */
export function normalizeIdentifiers(names: Iterable<string | Identifier>, rules: IdentifierRules = {}): Identifier[] {
  const seen = new Set<string>();
  const identifiers: Identifier[] = [];
  for (const name of names) {
    const identifier = parseIdentifier(typeof name === "string" ? name : name.value, rules);
    if (typeof name !== "string" && name.type !== identifier.type) {
      throw new SyntaxError(`Cannot use identifier "${name.value}": it is not of type ${name.type}`);
    }
    const key = `${identifier.type}:${identifier.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    identifiers.push(identifier);
  }
  if (identifiers.length === 0) throw new RangeError("Cannot order a certificate: no identifier given");
  return identifiers;
}
