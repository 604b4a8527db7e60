import { FieldError } from "./field-error.ts";
import { pathOf, within, type Source } from "./source.ts";

/** A JSON (or TOML) object whose members are not yet checked. */
export type Fields = Readonly<Record<string, unknown>>;

/**
 * Reports a bad field of `where`: throws the boundary's error for a {@link FieldError}.
 *
 * @throws {FieldError} or what `where.report` makes of it, always
 */
export function fail(where: Source, key: string, expected: string, actual: unknown): never {
  const error = new FieldError(where.name, pathOf(where, key), expected, actual);
  throw where.report ? where.report(error) : error;
}

/**
 * Checks that a value is an object (not `null`, not an array): the top of a document, or a member.
 *
 * @throws {FieldError} (through `where.report`) naming `key`, or the document when `key` is absent
 */
export function objectOf(value: unknown, where: Source, key?: string): Fields {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Fields;
  if (key !== undefined) return fail(where, key, "an object", value);
  const error = new FieldError(where.name, where.path ?? "", "an object", value, `${where.name} does not hold a JSON object`);
  throw where.report ? where.report(error) : error;
}

/** Calls `read` unless the member is absent (`undefined`), so that optional fields stay absent. */
function optional<T>(object: Fields, key: string, read: () => T): T | undefined {
  return object[key] === undefined ? undefined : read();
}

/** Options of {@link field.string}. */
export interface StringOptions {
  /** Whether `""` is accepted (default: no). */
  readonly empty?: boolean;
}

/**
 * The typed readers of one object's members, each naming the source and the field when the member
 * is missing or not what it should be: `field.string(object, "name", where)`. The `optional...`
 * readers return `undefined` for an absent member and check a present one.
 *
 * @example
 * ```ts
 * const where = sourceOf("/etc/example.json");
 * const object = objectOf(JSON.parse(text), where);
 * const port = field.int(object, "port", where, 1, 65535);
 * ```
 * @throws {FieldError} (through `where.report`) from every reader, naming the field
 */
export const field = {
  /** A string; non-empty unless `options.empty`. */
  string(object: Fields, key: string, where: Source, options: StringOptions = {}): string {
    const value = object[key];
    if (typeof value === "string" && (options.empty || value !== "")) return value;
    return fail(where, key, options.empty ? "a string" : "a non-empty string", value);
  },

  optionalString(object: Fields, key: string, where: Source, options: StringOptions = {}): string | undefined {
    return optional(object, key, () => field.string(object, key, where, options));
  },

  boolean(object: Fields, key: string, where: Source): boolean {
    const value = object[key];
    return typeof value === "boolean" ? value : fail(where, key, "true or false", value);
  },

  optionalBoolean(object: Fields, key: string, where: Source): boolean | undefined {
    return optional(object, key, () => field.boolean(object, key, where));
  },

  /** A whole number from `min` to `max`. */
  int(object: Fields, key: string, where: Source, min: number, max: number): number {
    const value = object[key];
    if (Number.isInteger(value) && (value as number) >= min && (value as number) <= max) return value as number;
    return fail(where, key, `a whole number from ${min} to ${max}`, value);
  },

  optionalInt(object: Fields, key: string, where: Source, min: number, max: number): number | undefined {
    return optional(object, key, () => field.int(object, key, where, min, max));
  },

  /** A TCP or UDP port number, 1 to 65535. */
  port(object: Fields, key: string, where: Source): number {
    const value = object[key];
    if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535) return value as number;
    return fail(where, key, "a port number (1-65535)", value);
  },

  optionalPort(object: Fields, key: string, where: Source): number | undefined {
    return optional(object, key, () => field.port(object, key, where));
  },

  /** A finite number from `min` to `max` (default: any finite number). */
  number(object: Fields, key: string, where: Source, min = -Infinity, max = Infinity): number {
    const value = object[key];
    if (typeof value === "number" && Number.isFinite(value) && value >= min && value <= max) return value;
    const range = max !== Infinity ? ` from ${min} to ${max}` : min !== -Infinity ? ` from ${min}` : "";
    return fail(where, key, `a number${range}`, value);
  },

  /** One of `allowed`. */
  oneOf<T extends string>(object: Fields, key: string, where: Source, allowed: readonly T[]): T {
    const value = object[key];
    return (allowed as readonly unknown[]).includes(value) ? (value as T) : fail(where, key, `one of ${allowed.join(", ")}`, value);
  },

  optionalOneOf<T extends string>(object: Fields, key: string, where: Source, allowed: readonly T[]): T | undefined {
    return optional(object, key, () => field.oneOf(object, key, where, allowed));
  },

  /** An absolute URL whose scheme is one of `protocols` (default `https:` and `http:`). */
  url(object: Fields, key: string, where: Source, protocols: readonly string[] = ["https:", "http:"]): string {
    const value = object[key];
    if (typeof value === "string" && URL.canParse(value) && protocols.some((protocol) => value.toLowerCase().startsWith(`${protocol}//`))) return value;
    return fail(where, key, `an ${protocols.map((protocol) => protocol.replace(/:$/, "://")).join(" or ")} URL`, value);
  },

  optionalUrl(object: Fields, key: string, where: Source, protocols?: readonly string[]): string | undefined {
    return optional(object, key, () => field.url(object, key, where, protocols));
  },

  /** A date as `Date.parse` reads it (ISO 8601), kept as the text. */
  date(object: Fields, key: string, where: Source): string {
    const value = object[key];
    if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return value;
    return fail(where, key, "a date (ISO 8601)", value);
  },

  optionalDate(object: Fields, key: string, where: Source): string | undefined {
    return optional(object, key, () => field.date(object, key, where));
  },

  array(object: Fields, key: string, where: Source): readonly unknown[] {
    const value = object[key];
    return Array.isArray(value) ? value : fail(where, key, "an array", value);
  },

  strings(object: Fields, key: string, where: Source): readonly string[] {
    const values = field.array(object, key, where);
    return values.every((value) => typeof value === "string") ? (values as string[]) : fail(where, key, "an array of strings", values);
  },

  optionalStrings(object: Fields, key: string, where: Source): readonly string[] | undefined {
    return optional(object, key, () => field.strings(object, key, where));
  },

  /** A member that is an object, with the source for reading its own fields (named `key.field`). */
  object(object: Fields, key: string, where: Source): { readonly fields: Fields; readonly where: Source } {
    return { fields: objectOf(object[key], where, key), where: within(where, key) };
  },

  optionalObject(object: Fields, key: string, where: Source): { readonly fields: Fields; readonly where: Source } | undefined {
    return optional(object, key, () => field.object(object, key, where));
  },

  /**
   * Checks that the object has no member outside `allowed` (a typo in a hand-written file).
   *
   * @throws {FieldError} naming the first unknown member, and the allowed ones
   */
  known(object: Fields, where: Source, allowed: readonly string[]): void {
    const unknown = Object.keys(object).find((key) => !allowed.includes(key));
    if (unknown !== undefined) fail(where, unknown, `absent: it is not a member here (the members are ${allowed.join(", ")})`, object[unknown]);
  },
} as const;

/** Only the members that are set, so that optional fields stay absent rather than `undefined`. */
export function defined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
}
