import { BunAcmeError } from "../errors/index.ts";

/**
 * A field of a document read at a boundary (a CA's JSON, a store record, a configuration file)
 * is missing or not what it should be. It names the document (`source`), the field (a dotted path,
 * e.g. `solver.port`) and what was expected; `actual` is the value found (`undefined`: missing).
 */
export class FieldError extends BunAcmeError {
  declare readonly code: "ERR_INVALID_FIELD";
  /** The file, record or resource read, as a user would find it. */
  readonly source: string;
  /** The field's dotted path within it. */
  readonly field: string;
  /** What the field should be, in words: `"a port number (1-65535)"`. */
  readonly expected: string;
  /** The value found; `undefined` when the field is missing. */
  readonly actual: unknown;

  /** @param message instead of the default `SOURCE: "FIELD" is VALUE, expected EXPECTED` */
  constructor(source: string, field: string, expected: string, actual: unknown, message?: string) {
    super("ERR_INVALID_FIELD", message ?? `${source}: "${field}" is ${describeValue(actual)}, expected ${expected}`);
    this.source = source;
    this.field = field;
    this.expected = expected;
    this.actual = actual;
  }
}

/** A value as an error message shows it: `missing`, or its JSON cut to 60 characters. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "missing";
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
