import { describe, expect, test } from "bun:test";
import { AcmeProtocolError, parseAuthorization, parseDirectory, parseOrder, parseProblem } from "../../src/acme/index.ts";
import { FieldError } from "../../src/validate/index.ts";

const URL = "https://ca.test/order/1";
const order = { status: "pending", identifiers: [{ type: "dns", value: "a.test" }], authorizations: ["https://ca.test/authz/1"], finalize: "https://ca.test/finalize/1" };

describe("the CA response parsers", () => {
  test("parseOrder() keeps the fields it knows and nothing else", () => {
    expect(parseOrder({ ...order, extra: 1 }, URL)).toEqual(order as never);
  });

  test.each([
    [{ ...order, status: "done" }, '"status" is "done", expected one of pending, ready, processing, valid, invalid'],
    [{ ...order, authorizations: "x" }, '"authorizations" is "x", expected an array'],
    [{ ...order, finalize: undefined }, '"finalize" is missing, expected a string'],
    [{ ...order, authorizations: [1] }, '"authorizations" is [1], expected an array of strings'],
    [[], "is not a JSON object"],
  ])("parseOrder() names the URL and the field: %p", (body, message) => {
    expect(() => parseOrder(body, URL)).toThrow(AcmeProtocolError);
    expect(() => parseOrder(body, URL)).toThrow(message);
    expect(() => parseOrder(body, URL)).toThrow(URL);
  });

  test("a nested field is named by its path, and the validator's FieldError is the cause", () => {
    const badIdentifier = { ...order, identifiers: [{ type: "dns", value: "a.test" }, { type: "email", value: "a@b.test" }] };
    expect(() => parseOrder(badIdentifier, URL)).toThrow(`The order from ${URL} is malformed: "identifiers.1.type" is "email", expected one of dns, ip`);
    const directory = { newNonce: "n", newAccount: "a", newOrder: "o", meta: { caaIdentities: "ca.test" } };
    let error: unknown;
    try {
      parseDirectory(directory, "https://ca.test/dir");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AcmeProtocolError);
    expect((error as Error).message).toBe('The directory from https://ca.test/dir is malformed: "meta.caaIdentities" is "ca.test", expected an array');
    expect((error as Error).cause).toBeInstanceOf(FieldError);
    expect(((error as Error).cause as FieldError).field).toBe("meta.caaIdentities");
  });

  test("parseAuthorization() checks each challenge; unknown challenge types may lack a token", () => {
    const body = {
      status: "pending", identifier: { type: "dns", value: "a.test" },
      challenges: [{ type: "http-01", url: "https://ca.test/c/1", status: "pending", token: "t" }, { type: "email-reply-00", url: "https://ca.test/c/2", status: "pending" }],
    };
    expect(parseAuthorization(body, "https://ca.test/authz/1").challenges.map((challenge) => challenge.token)).toEqual(["t", ""]);
    const noToken = { ...body, challenges: [{ type: "dns-01", url: "https://ca.test/c/1", status: "pending" }] };
    expect(() => parseAuthorization(noToken, "https://ca.test/authz/1")).toThrow('The challenge from https://ca.test/authz/1 is malformed: "token" is missing');
  });

  test("parseDirectory() requires the three URLs every flow needs", () => {
    expect(() => parseDirectory({ newNonce: "n", newAccount: "a" }, "https://ca.test/dir")).toThrow('it has no "newOrder" URL');
    expect(parseDirectory({ newNonce: "n", newAccount: "a", newOrder: "o", meta: { externalAccountRequired: true } }, "https://ca.test/dir").meta)
      .toEqual({ externalAccountRequired: true });
  });

  test("parseProblem() keeps a problem document whole and drops malformed members", () => {
    const problem = {
      type: "urn:ietf:params:acme:error:rejectedIdentifier", detail: "no", status: 400,
      subproblems: [{ type: "urn:ietf:params:acme:error:caa", detail: "CAA forbids", identifier: { type: "dns", value: "a.test" } }, { nope: 1 }],
    };
    expect(parseProblem(problem)).toEqual({ ...problem, subproblems: [problem.subproblems[0]!] } as never);
    expect(parseProblem({ detail: "no type" })).toBeUndefined();
    expect(parseProblem({ type: "x", status: "400" })).toEqual({ type: "x" });
  });

  test("parseProblem() keeps extension members as the CA sent them (RFC 8555 §6.2: algorithms with badSignatureAlgorithm; RFC 7807's title)", () => {
    const problem = {
      type: "urn:ietf:params:acme:error:badSignatureAlgorithm", detail: "RS1 is not supported", status: 400, title: "Bad signature algorithm",
      algorithms: ["ES256", "ES384", "RS256"],
    };
    expect(parseProblem(problem)).toEqual(problem);
    expect(parseProblem({ type: "x", status: "400", detail: 5, extra: { nested: true } })).toEqual({ type: "x", extra: { nested: true } });
  });
});
