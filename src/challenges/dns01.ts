import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { encodeBase64Url, sha256, utf8Encode } from "../encoding/index.ts";

/**
 * The TXT value for a dns-01 challenge: `base64url(SHA-256(keyAuthorization))`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.4
 */
export async function dns01TxtValue(keyAuthorization: string): Promise<string> {
  return encodeBase64Url(await sha256(utf8Encode(keyAuthorization)));
}

/**
 * The name the CA queries: `_acme-challenge.` before the identifier, without any `*.`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.4
 */
export function dns01RecordName(identifierValue: string): string {
  return `_acme-challenge.${identifierValue.replace(/^\*\./, "")}`.toLowerCase();
}

/**
 * Solves dns-01 by keeping the TXT values that a DNS server (see `src/dns`) answers with. One name
 * can hold several values at once, e.g. for `example.test` and `*.example.test` in one order.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.4
 */
export class Dns01Solver implements ChallengeSolver {
  readonly type = "dns-01";
  private readonly records = new Map<string, string[]>();

  async present(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    const name = dns01RecordName(identifier.value);
    const value = await dns01TxtValue(keyAuthorization);
    this.records.set(name, [...(this.records.get(name) ?? []), value]);
  }

  async cleanup(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    const name = dns01RecordName(identifier.value);
    const value = await dns01TxtValue(keyAuthorization);
    const values = this.records.get(name) ?? [];
    const index = values.indexOf(value);
    if (index >= 0) values.splice(index, 1);
    if (values.length === 0) this.records.delete(name);
  }

  /** The TXT values currently published for a name (lowercase, no trailing dot). */
  txtValues(name: string): readonly string[] {
    return this.records.get(name.toLowerCase()) ?? [];
  }
}
