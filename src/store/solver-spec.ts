/**
 * How a lineage's names are proven, as data: a tagged, serialisable description of a solver that
 * `renew` (or any program reading the store) can start again. `type` is always the challenge type
 * the CA validates, `via` what answers it.
 */
import type { ChallengeType } from "../acme/index.ts";
import { parseIPv4 } from "../encoding/index.ts";
import { fail, field, type Fields, type Source } from "../validate/index.ts";

/** The built-in responder of `type` (an HTTP server, a `acme-tls/1` TLS server, an authoritative DNS server) on `bind:port`. */
export interface ResponderSolverSpec {
  readonly type: "http-01" | "tls-alpn-01" | "dns-01";
  readonly via: "responder";
  readonly bind: string;
  readonly port: number;
  /** dns-01's server only: the IPv4 address it answers every A query with. */
  readonly record?: string;
}

/** http-01 through an existing web server: the challenge files are written under `path/.well-known/acme-challenge/`. */
export interface WebrootSolverSpec {
  readonly type: "http-01";
  readonly via: "webroot";
  readonly path: string;
}

/** dns-01 through RFC 2136 updates to the zone's primary, TSIG-signed with a BIND key file or `algorithm:name:secret`. */
export interface Rfc2136SolverSpec {
  readonly type: "dns-01";
  readonly via: "rfc2136";
  readonly server: string;
  readonly port: number;
  readonly tsigKeyFile?: string;
  readonly tsig?: string;
  readonly propagationTimeoutSeconds: number;
}

/** dns-01 through a command, run as `COMMAND present|cleanup NAME VALUE`. */
export interface DnsHookSolverSpec {
  readonly type: "dns-01";
  readonly via: "hook";
  readonly command: string;
}

/**
 * A solver the program brings (`manage()`'s own responders, or a `ChallengeSolver` it was given):
 * nothing to start from the record; only that program renews the lineage.
 */
export interface ExternalSolverSpec {
  readonly type: ChallengeType;
  readonly via: "external";
}

/** How a lineage's names are proven; see each member. */
export type SolverSpec = ResponderSolverSpec | WebrootSolverSpec | Rfc2136SolverSpec | DnsHookSolverSpec | ExternalSolverSpec;

const CHALLENGES: readonly ChallengeType[] = ["http-01", "dns-01", "tls-alpn-01"];
const VIAS: Readonly<Record<ChallengeType, readonly SolverSpec["via"][]>> = {
  "http-01": ["responder", "webroot", "external"],
  "tls-alpn-01": ["responder", "external"],
  "dns-01": ["responder", "rfc2136", "hook", "external"],
};
/** What a `record` member of another responder than dns-01's should be. */
export const RECORD_ONLY_DNS = "absent: only dns-01's built-in DNS server answers A queries with it (drop it, or use dns-01)";
/** What dns-01's `record` should be: what the command line's `--record` takes. */
export const RECORD_IPV4 = "an IPv4 address like 127.0.0.1 (dns-01's DNS server answers every A query with it)";

/**
 * Reads dns-01's `record` (the built-in DNS server's A answer): absent, or an IPv4 address in
 * dotted-quad form, as the command line's `--record` takes it.
 *
 * @throws {FieldError} (through `where.report`) naming `key` when it is not one
 */
export function optionalRecord(object: Fields, key: string, where: Source): string | undefined {
  const record = object[key];
  if (record === undefined) return undefined;
  try {
    if (typeof record === "string" && parseIPv4(record)) return record;
  } catch { /* reported below */ }
  return fail(where, key, RECORD_IPV4, record);
}

const MEMBERS: Readonly<Record<SolverSpec["via"], readonly string[]>> = {
  responder: ["bind", "port", "record"],
  webroot: ["path"],
  rfc2136: ["server", "port", "tsigKeyFile", "tsig", "propagationTimeoutSeconds"],
  hook: ["command"],
  external: [],
};

/**
 * Reads a solver spec (the `solver` member of `lineage.json`).
 *
 * @throws {FieldError} (through `where.report`) naming the member, e.g. `solver.port`
 */
export function parseSolverSpec(spec: Fields, where: Source): SolverSpec {
  const type = field.oneOf(spec, "type", where, CHALLENGES);
  const via = field.oneOf(spec, "via", where, VIAS[type]);
  field.known(spec, where, ["type", "via", ...MEMBERS[via]]);
  switch (via) {
    case "responder": {
      // The A answer of dns-01's own DNS server: an http-01 or tls-alpn-01 responder runs none, and no writer puts it there.
      if (type !== "dns-01" && spec.record !== undefined) return fail(where, "record", RECORD_ONLY_DNS, spec.record);
      const record = optionalRecord(spec, "record", where);
      return { type, via, bind: field.string(spec, "bind", where), port: field.port(spec, "port", where), ...(record !== undefined ? { record } : {}) };
    }
    case "webroot":
      return { type: "http-01", via, path: field.string(spec, "path", where) };
    case "rfc2136": {
      const tsigKeyFile = field.optionalString(spec, "tsigKeyFile", where);
      const tsig = field.optionalString(spec, "tsig", where);
      return {
        type: "dns-01", via,
        server: field.string(spec, "server", where),
        port: field.port(spec, "port", where),
        ...(tsigKeyFile !== undefined ? { tsigKeyFile } : {}),
        ...(tsig !== undefined ? { tsig } : {}),
        propagationTimeoutSeconds: field.number(spec, "propagationTimeoutSeconds", where, 0),
      };
    }
    case "hook":
      return { type: "dns-01", via, command: field.string(spec, "command", where) };
    case "external":
      return { type, via };
  }
}

/**
 * The members of a solver spec that make an instance run a command, write to a local folder or
 * hold a secret (as `lineage.json` names them).
 */
export function powerfulSolverMembers(spec: SolverSpec): string[] {
  switch (spec.via) {
    case "webroot":
      return ["solver.path"];
    case "hook":
      return ["solver.command"];
    case "rfc2136":
      return [...(spec.tsig !== undefined ? ["solver.tsig"] : []), ...(spec.tsigKeyFile !== undefined ? ["solver.tsigKeyFile"] : [])];
    default:
      return [];
  }
}
