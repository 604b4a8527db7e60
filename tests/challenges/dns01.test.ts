import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { dns01RecordName, dns01TxtValue, Dns01Solver } from "../../src/challenges/index.ts";

const challenge = (token: string) => ({ type: "dns-01", url: `https://ca.test/chall/${token}`, status: "pending" as const, token });

describe("dns-01", () => {
  test("dns01TxtValue() is base64url(SHA-256(key authorization)), checked with node:crypto", async () => {
    const keyAuthorization = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    expect(await dns01TxtValue(keyAuthorization)).toBe(createHash("sha256").update(keyAuthorization).digest("base64url"));
  });

  test("dns01RecordName() drops a wildcard label and lowercases", () => {
    expect(dns01RecordName("*.Example.Test")).toBe("_acme-challenge.example.test");
    expect(dns01RecordName("example.test")).toBe("_acme-challenge.example.test");
  });

  test("one name holds the values of a wildcard and its base at once; cleanup removes one at a time", async () => {
    const solver = new Dns01Solver();
    const identifier = { type: "dns" as const, value: "example.test" };
    await solver.present(identifier, challenge("a"), "a.thumb");
    await solver.present(identifier, challenge("b"), "b.thumb");
    expect(solver.txtValues("_acme-challenge.EXAMPLE.test")).toEqual([await dns01TxtValue("a.thumb"), await dns01TxtValue("b.thumb")]);
    await solver.cleanup(identifier, challenge("a"), "a.thumb");
    expect(solver.txtValues("_acme-challenge.example.test")).toEqual([await dns01TxtValue("b.thumb")]);
    await solver.cleanup(identifier, challenge("b"), "b.thumb");
    expect(solver.txtValues("_acme-challenge.example.test")).toEqual([]);
  });
});
