/**
 * The reader of `lineage.json` version 1 (bun-acme before the solver was a spec of its own): it
 * checks the members that changed, under their version 1 names, and translates the object into
 * version 2, which the version 2 parser then checks as a whole. A version 1 lineage opens as
 * version 2 and is written back as version 2 on its next save.
 *
 * Version 1 kept the command line's way of proving names beside the certificate: `challenge`,
 * `bind`, `ports` (`http`, `tls`, `dns`, all three whatever the challenge), `webroot`, `record`,
 * `dnsUpdate`, `dnsHook`, `hooks` and `out`. Version 2 keeps one `solver` spec, and the hooks and
 * `out` under `cli`.
 */
import type { ChallengeType } from "../acme/index.ts";
import { defined, fail, field, type Fields, type Source } from "../validate/index.ts";
import { optionalRecord, RECORD_ONLY_DNS } from "./solver-spec.ts";

const CHALLENGES: readonly ChallengeType[] = ["http-01", "dns-01", "tls-alpn-01"];
const MOVED = ["challenge", "bind", "ports", "webroot", "record", "dnsUpdate", "dnsHook", "hooks", "out"] as const;
/** The members of version 1's nested objects (main d430fee's `LineageHooks`, `ports`, `LineageDnsUpdate`). */
const NESTED = {
  hooks: ["pre", "post", "deploy"],
  ports: ["http", "tls", "dns"],
  dnsUpdate: ["server", "port", "tsigKeyFile", "tsig", "propagationTimeoutSeconds"],
} as const;
/** Every member version 1 had (main d430fee's `LineageConfig`): a file with another is named against these, not version 2's. */
const MEMBERS = [
  "version", "name", "identifiers", "directoryUrl", "allowInsecureHttp", "caFile", "challenge", "keyType", "bind", "ports",
  "webroot", "record", "dnsUpdate", "dnsHook", "hooks", "profile", "preferredChain", "out",
] as const;

/**
 * Translates a version 1 `lineage.json` object into a version 2 one (still to be validated as such).
 *
 * @throws {FieldError} (through `where.report`) naming the version 1 member that is wrong
 */
export function version1ToVersion2(json: Fields, where: Source): Fields {
  // Checked here, under version 1's names: after translation, version 2's check would list version 2's members.
  field.known(json, where, MEMBERS);
  // Nested too, whether or not the translation reads them (ports beside a webroot): a misspelt member is named, not dropped.
  for (const [key, members] of Object.entries(NESTED)) {
    const nested = field.optionalObject(json, key, where);
    if (nested) field.known(nested.fields, nested.where, members);
  }
  const rest = Object.fromEntries(Object.entries(json).filter(([key]) => !(MOVED as readonly string[]).includes(key)));
  const hooks = field.optionalObject(json, "hooks", where);
  // Version 1 took any string as a hook; an empty one ran nothing, and is dropped.
  const read = (key: string) => (hooks && field.optionalString(hooks.fields, key, hooks.where, { empty: true })) || undefined;
  const hookCommands = defined({ pre: read("pre"), post: read("post"), deploy: read("deploy") });
  const out = field.optionalString(json, "out", where);
  const cli = defined({ hooks: Object.keys(hookCommands).length > 0 ? hookCommands : undefined, out });
  return { ...rest, version: 2, solver: solverOf(json, where), ...(Object.keys(cli).length > 0 ? { cli } : {}) };
}

/** The solver a version 1 configuration describes, in the order `renew` chose it. */
function solverOf(json: Fields, where: Source): Fields {
  const challenge = field.oneOf(json, "challenge", where, CHALLENGES);
  if (challenge !== "dns-01" && json.record !== undefined) return fail(where, "record", RECORD_ONLY_DNS, json.record); // version 1's certonly refused --record there too
  const record = optionalRecord(json, "record", where); // checked under its version 1 name, whichever solver it goes with
  const webroot = field.optionalString(json, "webroot", where);
  if (webroot !== undefined) return { type: "http-01", via: "webroot", path: webroot };
  const dnsHook = field.optionalString(json, "dnsHook", where);
  if (dnsHook !== undefined) return { type: "dns-01", via: "hook", command: dnsHook };
  const update = field.optionalObject(json, "dnsUpdate", where);
  if (update) {
    const { fields, where: at } = update;
    return defined({
      type: "dns-01",
      via: "rfc2136",
      server: field.string(fields, "server", at),
      port: field.port(fields, "port", at),
      tsigKeyFile: field.optionalString(fields, "tsigKeyFile", at),
      tsig: field.optionalString(fields, "tsig", at),
      propagationTimeoutSeconds: field.number(fields, "propagationTimeoutSeconds", at, 0),
    });
  }
  const ports = field.object(json, "ports", where);
  const port = (key: string) => field.port(ports.fields, key, ports.where);
  const bind = field.string(json, "bind", where);
  if (challenge === "http-01") return { type: challenge, via: "responder", bind, port: port("http") };
  if (challenge === "tls-alpn-01") return { type: challenge, via: "responder", bind, port: port("tls") };
  return defined({ type: challenge, via: "responder", bind, port: port("dns"), record });
}
