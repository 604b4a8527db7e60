/**
 * The boundary between the CA's JSON and typed values: one parser per RFC 8555 resource, on the
 * field validator of src/validate. Each checks every field it returns and throws an
 * {@link AcmeProtocolError} naming the resource's URL and the field; nothing downstream casts.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1
 */
import { defined, describeValue, field, objectOf, sourceOf, within, type Fields, type Source } from "../validate/index.ts";
import { AcmeProtocolError } from "./errors.ts";
import type { AcmeProblem, Account, Authorization, Challenge, Directory, Identifier, Order } from "./types.ts";

type Json = Readonly<Record<string, unknown>>;

/**
 * The validator's source for a resource from the CA: a bad field is an {@link AcmeProtocolError}
 * naming the resource, its URL and the field (the {@link FieldError} as its cause).
 */
function resource(what: string, url: string): Source {
  return sourceOf(`The ${what} from ${url}`, (error) =>
    new AcmeProtocolError(
      error.field === "" ? `The ${what} from ${url} is not a JSON object` : `The ${what} from ${url} is malformed: "${error.field}" is ${describeValue(error.actual)}, expected ${error.expected}`,
      { cause: error },
    ));
}

/** The body as an object, and the source its fields are read with. */
function bodyOf(what: string, url: string, body: unknown): { readonly object: Fields; readonly where: Source } {
  const where = resource(what, url);
  return { object: objectOf(body, where), where };
}

/** A string member; RFC 8555 does not forbid empty ones. */
const text = (object: Fields, key: string, where: Source) => field.string(object, key, where, { empty: true });
const optionalText = (object: Fields, key: string, where: Source) => field.optionalString(object, key, where, { empty: true });

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
  const { object, where } = bodyOf("directory", url, body);
  for (const key of ["newNonce", "newAccount", "newOrder"]) {
    if (typeof object[key] !== "string") {
      throw new AcmeProtocolError(`The directory ${url} is not an ACME directory: it has no "${key}" URL`);
    }
  }
  const meta = field.optionalObject(object, "meta", where);
  const profiles = meta && field.optionalObject(meta.fields, "profiles", meta.where);
  return defined({
    newNonce: text(object, "newNonce", where),
    newAccount: text(object, "newAccount", where),
    newOrder: text(object, "newOrder", where),
    revokeCert: optionalText(object, "revokeCert", where),
    keyChange: optionalText(object, "keyChange", where),
    newAuthz: optionalText(object, "newAuthz", where),
    renewalInfo: optionalText(object, "renewalInfo", where),
    meta: meta && defined({
      termsOfService: optionalText(meta.fields, "termsOfService", meta.where),
      website: optionalText(meta.fields, "website", meta.where),
      caaIdentities: field.optionalStrings(meta.fields, "caaIdentities", meta.where),
      externalAccountRequired: field.optionalBoolean(meta.fields, "externalAccountRequired", meta.where),
      profiles: profiles && Object.fromEntries(Object.entries(profiles.fields).map(([name, description]) => [name, String(description)])),
    }),
  });
}

/**
 * Parses an account object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.2
 * @throws {AcmeProtocolError} naming the field
 */
export function parseAccount(body: unknown, url: string): Account {
  const { object, where } = bodyOf("account", url, body);
  return defined({
    status: field.oneOf(object, "status", where, ACCOUNT_STATUSES),
    contact: field.optionalStrings(object, "contact", where),
    termsOfServiceAgreed: field.optionalBoolean(object, "termsOfServiceAgreed", where),
    orders: optionalText(object, "orders", where),
  });
}

/**
 * Parses an order object.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3
 * @throws {AcmeProtocolError} naming the field
 */
export function parseOrder(body: unknown, url: string): Order {
  const { object, where } = bodyOf("order", url, body);
  return defined({
    status: field.oneOf(object, "status", where, ORDER_STATUSES),
    expires: optionalText(object, "expires", where),
    identifiers: field.array(object, "identifiers", where).map((identifier, index) => parseIdentifierObject(identifier, where, `identifiers.${index}`)),
    notBefore: optionalText(object, "notBefore", where),
    notAfter: optionalText(object, "notAfter", where),
    error: object.error === undefined ? undefined : parseProblemOf(object.error, "order", url),
    authorizations: field.strings(object, "authorizations", where),
    finalize: text(object, "finalize", where),
    certificate: optionalText(object, "certificate", where),
  });
}

/**
 * Parses an authorization object and its challenges.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.4
 * @throws {AcmeProtocolError} naming the field
 */
export function parseAuthorization(body: unknown, url: string): Authorization {
  const { object, where } = bodyOf("authorization", url, body);
  return defined({
    identifier: parseIdentifierObject(object.identifier, where, "identifier"),
    status: field.oneOf(object, "status", where, AUTHORIZATION_STATUSES),
    expires: optionalText(object, "expires", where),
    challenges: field.array(object, "challenges", where).map((challenge) => parseChallenge(challenge, url)),
    wildcard: field.optionalBoolean(object, "wildcard", where),
  });
}

/**
 * Parses a challenge object. Types this client does not answer may lack a token.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8
 * @throws {AcmeProtocolError} naming the field
 */
export function parseChallenge(body: unknown, url: string): Challenge {
  const { object, where } = bodyOf("challenge", url, body);
  const type = text(object, "type", where);
  const known = type === "http-01" || type === "dns-01" || type === "tls-alpn-01";
  return defined({
    type,
    url: text(object, "url", where),
    status: field.oneOf(object, "status", where, CHALLENGE_STATUSES),
    token: known ? text(object, "token", where) : (optionalText(object, "token", where) ?? ""),
    validated: optionalText(object, "validated", where),
    error: object.error === undefined ? undefined : parseProblemOf(object.error, "challenge", url),
  });
}

/** The members RFC 7807 and RFC 8555 define for a problem document; the others are extensions, kept as sent. */
const PROBLEM_MEMBERS = new Set(["type", "detail", "status", "instance", "identifier", "subproblems"]);

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
  const extensions = Object.fromEntries(Object.entries(object).filter(([member]) => !PROBLEM_MEMBERS.has(member)));
  return defined({
    ...extensions,
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

function parseIdentifierObject(body: unknown, where: Source, key: string): Identifier {
  const object = objectOf(body, where, key);
  const at = within(where, key);
  return { type: field.oneOf(object, "type", at, ["dns", "ip"] as const), value: text(object, "value", at) };
}
