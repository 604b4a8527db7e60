import { describe, expect, test } from "bun:test";
import { parseAnnouncement, releaseAnnouncement } from "../../src/store/announcement.ts";

const record = { config: "{\"version\":2}", meta: "{\"version\":1}", chain: "-----BEGIN CERTIFICATE-----", key: "sealed:AAAA" };

describe("parseAnnouncement()", () => {
  test("reads a whole record with its name", () => {
    expect(parseAnnouncement(JSON.stringify({ name: "a.example", ...record }))).toEqual({ name: "a.example", record });
  });

  test("reads a lineage name alone (a metadata save, a record too long, an older instance)", () => {
    expect(parseAnnouncement("a.example")).toEqual({ name: "a.example" });
  });

  test("announces by name alone a record with a field missing, empty or not text", () => {
    for (const broken of [{ chain: undefined }, { key: "" }, { meta: 5 }, { config: null }]) {
      expect(parseAnnouncement(JSON.stringify({ name: "a.example", ...record, ...broken }))).toEqual({ name: "a.example" });
    }
  });

  test("reads a lock released without a save, which is no save: no record, released set", () => {
    expect(parseAnnouncement(JSON.stringify({ released: "a.example" }))).toEqual({ name: "a.example", released: true });
    expect(parseAnnouncement(releaseAnnouncement("a.example"))).toEqual({ name: "a.example", released: true });
  });

  test("is no release for a released name that cannot be a lineage's, or one not text; a `name` wins over `released`", () => {
    for (const message of [JSON.stringify({ released: "../x" }), JSON.stringify({ released: 5 }), JSON.stringify({ released: "" })]) {
      expect(parseAnnouncement(message)).toBeUndefined();
    }
    expect(parseAnnouncement(JSON.stringify({ name: "a.example", released: "b.example" }))).toEqual({ name: "a.example" });
  });

  test("is no announcement for malformed JSON, a non-object, a missing or non-lineage name", () => {
    for (const message of ["{\"name\":", "{}", "[1]", JSON.stringify({ name: 5, ...record }), JSON.stringify({ name: "../../x", ...record }), "../etc", "", "a b"]) {
      expect(parseAnnouncement(message)).toBeUndefined();
    }
  });
});
