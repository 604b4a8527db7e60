/**
 * The one field validator (src/validate): each reader returns the typed value or throws one
 * FieldError naming the document and the field's dotted path; a boundary's `report` turns it into
 * its own error, keeping it as the cause.
 */
import { describe, expect, test } from "bun:test";
import { BunAcmeError } from "../../src/errors/index.ts";
import { describeValue, field, FieldError, objectOf, sourceOf, within, type Fields } from "../../src/validate/index.ts";

const where = sourceOf("/etc/example.json");

function caught(work: () => unknown): FieldError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(FieldError);
    return error as FieldError;
  }
  throw new Error("expected a FieldError");
}

describe("field readers", () => {
  const object: Fields = { name: "a", empty: "", port: 443, big: 70000, half: 1.5, flag: true, url: "https://ca.test/dir", plain: "ftp://x", when: "2026-01-01T00:00:00Z", list: ["a", "b"], mixed: ["a", 1], nested: { port: "80" } };

  test.each([
    ["string", () => field.string(object, "name", where), "a"],
    ["string (empty allowed)", () => field.string(object, "empty", where, { empty: true }), ""],
    ["optionalString (absent)", () => field.optionalString(object, "missing", where), undefined],
    ["boolean", () => field.boolean(object, "flag", where), true],
    ["int", () => field.int(object, "port", where, 1, 65535), 443],
    ["port", () => field.port(object, "port", where), 443],
    ["number", () => field.number(object, "half", where, 0), 1.5],
    ["oneOf", () => field.oneOf(object, "name", where, ["a", "b"]), "a"],
    ["url", () => field.url(object, "url", where), "https://ca.test/dir"],
    ["date", () => field.date(object, "when", where), "2026-01-01T00:00:00Z"],
    ["strings", () => field.strings(object, "list", where), ["a", "b"]],
  ] as const)("%s() returns the value", (_, read, value) => {
    expect(read()).toEqual(value as never);
  });

  test.each([
    ["string() refuses an empty string", () => field.string(object, "empty", where), "empty", "a non-empty string", ""],
    ["string() refuses a missing member", () => field.string(object, "missing", where), "missing", "a non-empty string", undefined],
    ["optionalString() checks a present member", () => field.optionalString(object, "port", where), "port", "a non-empty string", 443],
    ["boolean() refuses text", () => field.boolean(object, "name", where), "name", "true or false", "a"],
    ["int() refuses a number out of range", () => field.int(object, "big", where, 1, 65535), "big", "a whole number from 1 to 65535", 70000],
    ["port() refuses 70000", () => field.port(object, "big", where), "big", "a port number (1-65535)", 70000],
    ["int() refuses a fraction", () => field.int(object, "half", where, 0, 10), "half", "a whole number from 0 to 10", 1.5],
    ["number() refuses one below its minimum", () => field.number(object, "half", where, 2), "half", "a number from 2", 1.5],
    ["oneOf() refuses another value", () => field.oneOf(object, "name", where, ["x", "y"]), "name", "one of x, y", "a"],
    ["url() refuses another scheme", () => field.url(object, "plain", where), "plain", "an https:// or http:// URL", "ftp://x"],
    ["url() refuses text that is no URL", () => field.url(object, "name", where, ["https:"]), "name", "an https:// URL", "a"],
    ["date() refuses text that is no date", () => field.date(object, "name", where), "name", "a date (ISO 8601)", "a"],
    ["strings() refuses a mixed array", () => field.strings(object, "mixed", where), "mixed", "an array of strings", ["a", 1]],
    ["object() refuses a string", () => field.object(object, "name", where), "name", "an object", "a"],
    ["known() names an unknown member", () => field.known(object, where, ["name"]), "empty", "absent: it is not a member here (the members are name)", ""],
  ] as const)("%s, naming the source and the field", (_, read, member, expected, actual) => {
    const error = caught(read);
    expect(error).toBeInstanceOf(BunAcmeError);
    expect(error.code).toBe("ERR_INVALID_FIELD");
    expect(error.source).toBe("/etc/example.json");
    expect(error.field).toBe(member);
    expect(error.expected).toBe(expected);
    expect(error.actual).toEqual(actual as never);
    expect(error.message).toBe(`/etc/example.json: "${member}" is ${describeValue(actual)}, expected ${expected}`);
  });

  test("a nested object's fields are named with their path", () => {
    const nested = field.object(object, "nested", where);
    const error = caught(() => field.port(nested.fields, "port", nested.where));
    expect(error.field).toBe("nested.port");
    expect(error.message).toBe('/etc/example.json: "nested.port" is "80", expected a port number (1-65535)');
    expect(caught(() => field.string({}, "x", within(within(where, "a"), "b"))).field).toBe("a.b.x");
  });

  test("objectOf() refuses what is not an object, naming the document", () => {
    for (const value of [null, [], "text", 3]) expect(caught(() => objectOf(value, where)).message).toBe("/etc/example.json does not hold a JSON object");
    expect(objectOf({ a: 1 }, where)).toEqual({ a: 1 });
  });

  test("a boundary's report makes its own error, with the FieldError as cause", () => {
    class BoundaryError extends BunAcmeError {}
    const reporting = sourceOf("record r", (error) => new BoundaryError("ERR_BOUNDARY", `bad ${error.field}`, { cause: error }));
    let thrown: unknown;
    try {
      field.int({ port: -1 }, "port", reporting, 1, 2);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BoundaryError);
    expect((thrown as BoundaryError).message).toBe("bad port");
    expect((thrown as BoundaryError).cause).toBeInstanceOf(FieldError);
  });

  test("describeValue() shows a value briefly: missing, JSON, cut at 60 characters", () => {
    expect(describeValue(undefined)).toBe("missing");
    expect(describeValue({ a: 1 })).toBe('{"a":1}');
    expect(describeValue("x".repeat(100))).toHaveLength(60);
  });
});
