/**
 * A {@link LifecycleEvent} as one JSON line, and back. The line keeps the names scripts already
 * read from bun-acme's `--json` output: `event` for the type, snake_case fields (`not_after`,
 * `next_renewal`, `hook_error`); the values are the event's own (the problem document whole).
 */
import type { LifecycleEvent, LifecycleEventType } from "./events.ts";

/** A field's kind; `?` marks it optional. */
type Kind = "string" | "time" | "number" | "boolean" | "strings" | "problem" | "window";
type Schema = Readonly<Record<string, Kind | `${Kind}?`>>;

const SUBJECT = { lineage: "string", names: "strings", ca: "string?" } as const;
const CERTIFICATE = { ...SUBJECT, serial: "string", notAfter: "time", nextRenewal: "time" } as const;
const SOME_CERTIFICATE = { lineage: "string?", names: "strings?", ca: "string?", serial: "string?", notAfter: "time?", nextRenewal: "time?" } as const;
const FAILURE = { error: "string", code: "string?", problem: "problem?" } as const;

/** Every type's fields but `type` and `time`: the check of each line. */
const SCHEMAS: Readonly<Record<LifecycleEventType, Schema>> = {
  obtained: { ...CERTIFICATE, damage: "string?", folder: "string?", hookError: "string?" },
  renewed: { ...CERTIFICATE, previousSerial: "string", folder: "string?", hookError: "string?" },
  dry_run: CERTIFICATE,
  not_due: CERTIFICATE,
  updated: { ...CERTIFICATE, message: "string" },
  next_renewal: { ...CERTIFICATE, at: "time" },
  expired: { ...CERTIFICATE, message: "string" },
  lineage: {
    ...CERTIFICATE, folder: "string?", problems: "strings?", status: "string?", issuerName: "string?", due: "boolean?", renewalSource: "string?", ariRetryAt: "time?",
  },
  failed: { ...SOME_CERTIFICATE, ...SUBJECT, ...FAILURE, at: "time?" },
  damaged: { ...SUBJECT, message: "string" },
  warning: { ...SOME_CERTIFICATE, message: "string" },
  renewal_info: {
    certificate: "string", notBefore: "time", notAfter: "time", renewAt: "time", source: "string", window: "window?", explanationUrl: "string?", askAgainAfter: "time?",
  },
  serving: { hostname: "string", port: "number?", sites: "number", served: "number", store: "string", onDemandSites: "number?", ask: "string?" },
  config_reloaded: { sites: "number" },
  config_rejected: { error: "string" },
  hook_failed: { lineage: "string?", names: "strings?", ca: "string?", hook: "string", error: "string", code: "string?", exitCode: "number?", output: "string?" },
  request: { client: "string?", method: "string", host: "string?", target: "string", status: "number", durationMs: "number", error: "string?", detail: "string?" },
  proxy_error: { host: "string?", status: "number", error: "string", detail: "string?" },
  stopped: {},
};

const toWire = (key: string) => (key === "type" ? "event" : key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`));
const fromWire = (key: string) => (key === "event" ? "type" : key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase()));

/**
 * The event as one line of JSON (no newline): `event` (its type) and `time` first, then its
 * fields in snake_case; absent fields are left out.
 *
 * @example eventLine(event) // {"event":"renewed","time":"2026-...","lineage":"example.net",...,"not_after":"..."}
 */
export function eventLine(event: LifecycleEvent): string {
  const { type, time, ...fields } = event;
  const wire: Record<string, unknown> = { event: type, time };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) wire[toWire(key)] = value;
  return JSON.stringify(wire);
}

/**
 * Reads a line {@link eventLine} wrote, checking it against the type's fields: every required
 * field present, each of its kind, nothing unknown.
 *
 * @throws {SyntaxError} when the line is not JSON
 * @throws {TypeError} when it is not an event, naming the field at fault
 */
export function parseEventLine(line: string): LifecycleEvent {
  const wire: unknown = JSON.parse(line);
  if (typeof wire !== "object" || wire === null || Array.isArray(wire)) throw new TypeError("Cannot read the event line: it is not a JSON object");
  const fields = Object.fromEntries(Object.entries(wire).map(([key, value]) => [fromWire(key), value])) as Record<string, unknown>;
  const type = fields.type;
  const misspelt = Object.keys(wire).find((key) => toWire(fromWire(key)) !== key); // "notAfter" or "type": not the line's own names
  if (typeof type !== "string" || !Object.hasOwn(SCHEMAS, type)) throw new TypeError(`Cannot read the event line: "event" ${JSON.stringify(type)} is not an event type`);
  const schema: Schema = { type: "string", time: "time", ...SCHEMAS[type as LifecycleEventType] };
  if (misspelt !== undefined) throw new TypeError(`Cannot read the ${type} event: "${misspelt}" is not one of its fields`);
  for (const key of Object.keys(fields)) if (!Object.hasOwn(schema, key)) throw new TypeError(`Cannot read the ${type} event: "${toWire(key)}" is not one of its fields`);
  for (const [key, kind] of Object.entries(schema)) {
    const optional = kind.endsWith("?");
    const value = fields[key];
    if (value === undefined) {
      if (!optional) throw new TypeError(`Cannot read the ${type} event: "${toWire(key)}" is missing`);
      continue;
    }
    if (!isKind(value, kind.replace("?", "") as Kind)) throw new TypeError(`Cannot read the ${type} event: "${toWire(key)}" is not ${kind.replace("?", "")}`);
  }
  return fields as unknown as LifecycleEvent;
}

function isKind(value: unknown, kind: Kind): boolean {
  switch (kind) {
    case "string":
      return typeof value === "string";
    case "time":
      return typeof value === "string" && /^\d{4}-\d\d-\d\dT/.test(value) && !Number.isNaN(Date.parse(value));
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "strings":
      return Array.isArray(value) && value.every((item) => typeof item === "string");
    case "problem": // RFC 7807 as RFC 8555 uses it: an object, its type a string
      return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
    case "window":
      return typeof value === "object" && value !== null && isKind((value as { start?: unknown }).start, "time") && isKind((value as { end?: unknown }).end, "time");
  }
}
