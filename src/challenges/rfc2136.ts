/**
 * dns-01 on the user's own name servers: the TXT record is added with an RFC 2136 dynamic update
 * (TSIG-signed), every authoritative server of the zone is watched until it serves the value, and
 * only that value is deleted afterwards.
 * @see https://www.rfc-editor.org/rfc/rfc2136
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.4
 */
import type { ChallengeSolver } from "../acme/index.ts";
import type { Challenge, Identifier } from "../acme/index.ts";
import { findZone, followCname, nameServers, updateTxt, waitForTxt, type UpdateTarget } from "../dns/index.ts";
import { dns01RecordName, dns01TxtValue } from "./dns01.ts";

/** How to reach the zone's primary, and how long to wait for its secondaries. */
export interface Rfc2136Options extends UpdateTarget {
  /** Longest wait for every authoritative server to serve the value (default 120 000 ms); 0 skips the check. */
  readonly propagationTimeoutMs?: number;
  /** TTL of the record (default 60 s). */
  readonly ttl?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/**
 * A `ChallengeSolver` for dns-01 through RFC 2136 updates.
 *
 * @example
 * const solver = new Rfc2136Solver({ server: "192.0.2.53", port: 53, tsig: parseTsigKey(await Bun.file("acme.key").text()) });
 */
export class Rfc2136Solver implements ChallengeSolver {
  readonly type = "dns-01";
  private readonly options: Rfc2136Options;
  /** Where each presented value went: its real name (after CNAMEs) and zone. */
  private readonly placed = new Map<string, { name: string; zone: string }>();

  constructor(options: Rfc2136Options) {
    this.options = options;
  }

  async present(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    const value = await dns01TxtValue(keyAuthorization);
    const name = await followCname(dns01RecordName(identifier.value), this.options);
    const zone = await findZone(name, this.options);
    await updateTxt("add", zone, name, value, this.options, this.options.ttl ?? 60);
    this.placed.set(value, { name, zone });
    this.options.log?.(`TXT ${name} added in zone ${zone} on ${this.options.server}:${this.options.port}`);
    const timeoutMs = this.options.propagationTimeoutMs ?? 120_000;
    if (timeoutMs <= 0) return;
    const servers = await nameServers(zone, this.options);
    const started = Date.now();
    await waitForTxt(name, value, servers.length > 0 ? servers : [{ name: this.options.server, address: this.options.server }], this.options, timeoutMs);
    this.options.log?.(`TXT ${name} served by ${servers.length || 1} authoritative server(s) after ${Date.now() - started} ms`);
  }

  async cleanup(_identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    const value = await dns01TxtValue(keyAuthorization);
    const placed = this.placed.get(value);
    if (!placed) return;
    this.placed.delete(value);
    await updateTxt("delete", placed.zone, placed.name, value, this.options);
  }
}
