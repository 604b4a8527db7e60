/**
 * The boundary between the CA's JSON and typed values: one parser per RFC 8555 resource. Each
 * checks every field it returns and throws an {@link AcmeProtocolError} naming the resource's
 * URL and the field; nothing downstream casts.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1
 */
import { AcmeProtocolError } from "./errors.ts";
import type { AcmeProblem, Account, Authorization, Challenge, Directory, Identifier, Order } from "./types.ts";

type Json = Readonly<Record<string, unknown>>;

/** Reads the fields of one JSON object, naming the resource in every error. */
class Fields {
  readonly what: string;
  readonly url: string;
  readonly object: Json;

  constructor(what: string, url: string, object: Json) {
    this.what = what;
    this.url = url;
    this.object = object;
  }

  static of(what: string, url: string, body: unknown): Fields {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new AcmeProtocolError(`The ${what} from ${url} is not a JSON object`);
    return new Fields(what, url, body as Json);
  }

  fail(field: string, expected: string): never {
    const value = this.object[field];
    const shown = value === undefined ? "missing" : `${JSON.stringify(value)?.slice(0, 60)}`;
    throw new AcmeProtocolError(`The ${this.what} from ${this.url} is malformed: "${field}" is ${shown}, expected ${expected}`);
  }

  string(field: string): string {
    const value = this.object[field];
    return typeof value === "string" ? value : this.fail(field, "a string");
  }

  optionalString(field: string): string | undefined {
    return this.object[field] === undefined ? undefined : this.string(field);
  }

  optionalBoolean(field: string): boolean | undefined {
    const value = this.object[field];
    if (value === undefined || typeof value === "boolean") return value;
    return this.fail(field, "true or false");
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.object[field];
    return (allowed as readonly unknown[]).includes(value) ? (value as T) : this.fail(field, `one of ${allowed.join(", ")}`);
  }

  array(field: string): readonly unknown[] {
    const value = this.object[field];
    return Array.isArray(value) ? value : this.fail(field, "an array");
  }

  strings(field: string): readonly string[] {
    const values = this.array(field);
    return values.every((value) => typeof value === "string") ? (values as string[]) : this.fail(field, "an array of strings");
  }

  optionalStrings(field: string): readonly string[] | undefined {
    return this.object[field] === undefined ? undefined : this.strings(field);
  }

  nested(field: string): Fields {
    return Fields.of(`${this.what}'s "${field}"`, this.url, this.object[field]);
  }

  /** Only the members that are set, so that optional fields stay absent rather than `undefined`. */
  static defined<T extends object>(object: T): T {
    return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
  }
}

const ORDER_STATUSES = ["pending", "ready", "processing", "valid", "invalid"] as const;
const AUTHORIZATION_STATUSES = ["pending", "valid", "invalid", "deactivated", "expired", "revoked"] as const;
const CHALLENGE_STATUSES = ["pending", "processing", "valid", "invalid"] as const;
const ACCOUNT_STATUSES = ["valid", "deactivated", "revoked"] as const;

/**
 * Parses a directory object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.1
 * @throws {AcmeProtocolError} when a required URL is missing or a field has the wrong type
 */
export function parseDirectory(body: unknown, url: string): Directory {
  const fields = Fields.of("directory", url, body);
  for (const key of ["newNonce", "newAccount", "newOrder"]) {
    if (typeof fields.object[key] !== "string") {
      throw new AcmeProtocolError(`The directory ${url} is not an ACME directory: it has no "${key}" URL`);
    }
  }
  let meta: Directory["meta"];
  if (fields.object.meta !== undefined) {
    const m = fields.nested("meta");
    const profiles = m.object.profiles;
    if (profiles !== undefined && (typeof profiles !== "object" || profiles === null || Array.isArray(profiles))) m.fail("profiles", "an object");
    meta = Fields.defined({
      termsOfService: m.optionalString("termsOfService"),
      website: m.optionalString("website"),
      caaIdentities: m.optionalStrings("caaIdentities"),
      externalAccountRequired: m.optionalBoolean("externalAccountRequired"),
      profiles: profiles === undefined ? undefined : Object.fromEntries(Object.entries(profiles as Json).map(([name, text]) => [name, String(text)])),
    });
  }
  return Fields.defined({
    newNonce: fields.string("newNonce"),
    newAccount: fields.string("newAccount"),
    newOrder: fields.string("newOrder"),
    revokeCert: fields.optionalString("revokeCert"),
    keyChange: fields.optionalString("keyChange"),
    newAuthz: fields.optionalString("newAuthz"),
    renewalInfo: fields.optionalString("renewalInfo"),
    meta,
  });
}

/**
 * Parses an account object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.2
 * @throws {AcmeProtocolError} naming the field
 */
export function parseAccount(body: unknown, url: string): Account {
  const fields = Fields.of("account", url, body);
  return Fields.defined({
    status: fields.oneOf("status", ACCOUNT_STATUSES),
    contact: fields.optionalStrings("contact"),
    termsOfServiceAgreed: fields.optionalBoolean("termsOfServiceAgreed"),
    orders: fields.optionalString("orders"),
  });
}

/**
 * Parses an order object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3
 * @throws {AcmeProtocolError} naming the field
 */
export function parseOrder(body: unknown, url: string): Order {
  const fields = Fields.of("order", url, body);
  return Fields.defined({
    status: fields.oneOf("status", ORDER_STATUSES),
    expires: fields.optionalString("expires"),
    identifiers: fields.array("identifiers").map((identifier) => parseIdentifierObject(identifier, "order", url)),
    notBefore: fields.optionalString("notBefore"),
    notAfter: fields.optionalString("notAfter"),
    error: fields.object.error === undefined ? undefined : parseProblemOf(fields.object.error, "order", url),
    authorizations: fields.strings("authorizations"),
    finalize: fields.string("finalize"),
    certificate: fields.optionalString("certificate"),
  });
}

/**
 * Parses an authorization object and its challenges.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.4
 * @throws {AcmeProtocolError} naming the field
 */
export function parseAuthorization(body: unknown, url: string): Authorization {
  const fields = Fields.of("authorization", url, body);
  return Fields.defined({
    identifier: parseIdentifierObject(fields.object.identifier, "authorization", url),
    status: fields.oneOf("status", AUTHORIZATION_STATUSES),
    expires: fields.optionalString("expires"),
    challenges: fields.array("challenges").map((challenge) => parseChallenge(challenge, url)),
    wildcard: fields.optionalBoolean("wildcard"),
  });
}

/**
 * Parses a challenge object. Types this client does not answer may lack a token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8
 * @throws {AcmeProtocolError} naming the field
 */
export function parseChallenge(body: unknown, url: string): Challenge {
  const fields = Fields.of("challenge", url, body);
  const type = fields.string("type");
  const known = type === "http-01" || type === "dns-01" || type === "tls-alpn-01";
  return Fields.defined({
    type,
    url: fields.string("url"),
    status: fields.oneOf("status", CHALLENGE_STATUSES),
    token: known ? fields.string("token") : (fields.optionalString("token") ?? ""),
    validated: fields.optionalString("validated"),
    error: fields.object.error === undefined ? undefined : parseProblemOf(fields.object.error, "challenge", url),
  });
}

/**
 * Reads a problem document when the body is one (an object with a string `type`), else `undefined`.
 * Malformed optional members are dropped rather than trusted.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.7
 * @see https://www.rfc-editor.org/rfc/rfc7807#section-3.1
 */
export function parseProblem(body: unknown): AcmeProblem | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const object = body as Json;
  if (typeof object.type !== "string") return undefined;
  const identifier = object.identifier as Json | undefined;
  const subproblems = Array.isArray(object.subproblems) ? object.subproblems.map(parseProblem).filter((sub) => sub !== undefined) : undefined;
  return Fields.defined({
    type: object.type,
    detail: typeof object.detail === "string" ? object.detail : undefined,
    status: typeof object.status === "number" ? object.status : undefined,
    instance: typeof object.instance === "string" ? object.instance : undefined,
    identifier: (identifier?.type === "dns" || identifier?.type === "ip") && typeof identifier.value === "string"
      ? { type: identifier.type, value: identifier.value } as Identifier
      : undefined,
    subproblems,
  });
}

function parseProblemOf(body: unknown, what: string, url: string): AcmeProblem {
  const problem = parseProblem(body);
  if (!problem) throw new AcmeProtocolError(`The ${what} from ${url} is malformed: "error" is not a problem document`);
  return problem;
}

function parseIdentifierObject(body: unknown, what: string, url: string): Identifier {
  const fields = Fields.of(`${what}'s identifier`, url, body);
  return { type: fields.oneOf("type", ["dns", "ip"] as const), value: fields.string("value") };
}
