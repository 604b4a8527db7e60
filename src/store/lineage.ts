/**
 * A lineage: one certificate over its renewals. Its configuration says how it was obtained (so
 * that `renew` needs no flags); its metadata says what is current and when to renew it. Both are
 * JSON, read back through the validators here, which name the file and what is wrong with it.
 */
import type { ChallengeType, Identifier } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import type { KeyType } from "../jose/index.ts";

/** Commands run around an issuance, as certbot's `--pre-hook`, `--post-hook`, `--deploy-hook`. */
export interface LineageHooks {
  readonly pre?: string;
  readonly post?: string;
  readonly deploy?: string;
}

/** RFC 2136 settings: the primary, the TSIG key (a BIND key file, or `algorithm:name:secret`), the propagation wait. */
export interface LineageDnsUpdate {
  readonly server: string;
  readonly port: number;
  readonly tsigKeyFile?: string;
  readonly tsig?: string;
  readonly propagationTimeoutSeconds: number;
}

/** How a lineage's certificate is obtained. */
export interface LineageConfig {
  readonly version: 1;
  readonly name: string;
  readonly identifiers: readonly Identifier[];
  readonly directoryUrl: string;
  readonly allowInsecureHttp: boolean;
  /** PEM roots that verify the CA, when not the system's. */
  readonly caFile?: string;
  readonly challenge: ChallengeType;
  readonly keyType: KeyType;
  /** Where the built-in responders listen. */
  readonly bind: string;
  readonly ports: { readonly http: number; readonly tls: number; readonly dns: number };
  /** http-01 through an existing web server's document root. */
  readonly webroot?: string;
  /** dns-01's built-in server: the address it answers A queries with, if any. */
  readonly record?: string;
  /** dns-01 through RFC 2136 updates to the zone's primary. */
  readonly dnsUpdate?: LineageDnsUpdate;
  /** dns-01 through a command: `CMD present|cleanup NAME VALUE`. */
  readonly dnsHook?: string;
  readonly hooks: LineageHooks;
  readonly profile?: string;
  readonly preferredChain?: string;
  /** A folder that gets copies (cert.pem, chain.pem, fullchain.pem, privkey.pem) after every issuance. */
  readonly out?: string;
}

/** What the current certificate is and when to renew it. */
export interface LineageMeta {
  readonly version: 1;
  /** Hexadecimal, as `openssl x509 -serial` prints it. */
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  /** RFC 9773 certificate ID, when the certificate has an Authority Key Identifier. */
  readonly ariCertId?: string;
  readonly certificateUrl: string;
  /** The account that ordered it. */
  readonly accountUrl?: string;
  /** The directory URL of the CA that issued it (absent in lineages saved before issuer fallback). */
  readonly directoryUrl?: string;
  readonly obtainedAt: string;
  /** When to renew: a moment in the CA's ARI window, or 2/3 of the validity period. */
  readonly nextRenewal: string;
  readonly renewalSource: "renewalInfo" | "lifetime";
  /** When the CA's renewalInfo should be asked again (its Retry-After). */
  readonly ariRetryAt?: string;
}

/** A lineage's files as one value. */
export interface StoredLineage {
  readonly config: LineageConfig;
  readonly meta: LineageMeta;
  /** PKCS#8 PEM. */
  readonly keyPem: string;
  /** Leaf first. */
  readonly chainPem: string;
}

/** Whether two lineage configurations name the same identifiers, in the same order. */
export function sameIdentifiers(a: Pick<LineageConfig, "identifiers">, b: Pick<LineageConfig, "identifiers">): boolean {
  return a.identifiers.length === b.identifiers.length && a.identifiers.every((identifier, index) => identifier.value === b.identifiers[index]!.value);
}

/** A store's content is not what bun-acme wrote (hand-edited, truncated, another version). */
export class StoreError extends BunAcmeError {
  constructor(message: string, code = "ERR_STORE", options?: ErrorOptions) {
    super(code, message, options);
    this.name = "StoreError";
  }
}

/** Lineage names are folder names: letters, digits, dots, dashes, underscores, colons. */
const LINEAGE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._:-]{0,252}$/;

/**
 * The default lineage name for some identifiers: the first one, a wildcard's `*.` dropped (as
 * certbot names its lineages).
 */
export function defaultLineageName(identifiers: readonly Identifier[]): string {
  return identifiers[0]!.value.replace(/^\*\./, "");
}

/**
 * Checks a lineage name.
 *
 * @throws {RangeError} when it cannot be a folder name
 */
export function checkLineageName(name: string): string {
  if (!LINEAGE_NAME.test(name) || name.includes("..")) {
    throw new RangeError(`"${name}" is not a lineage name: use letters, digits, dots, dashes, underscores (e.g. example.net)`);
  }
  return name;
}

type Json = Record<string, unknown>;

/** Reads a JSON object from text, naming the file when it is not one. */
export function parseJsonObject(text: string, file: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreError(`${file} is not valid JSON (${(error as Error).message}); it was not overwritten: restore or remove it`, "ERR_STORE_CORRUPT");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StoreError(`${file} does not hold a JSON object; it was not overwritten: restore or remove it`, "ERR_STORE_CORRUPT");
  }
  return value as Json;
}

/** A checker of one JSON object's members that names the file and member at fault. */
function fields(json: Json, file: string) {
  const fail = (key: string, want: string) =>
    new StoreError(`${file}: "${key}" should be ${want}; the file was not overwritten: restore or remove it`, "ERR_STORE_CORRUPT");
  const string = (key: string): string => {
    if (typeof json[key] !== "string" || json[key] === "") throw fail(key, "a non-empty string");
    return json[key] as string;
  };
  return {
    fail,
    string,
    optionalString: (key: string): string | undefined => (json[key] === undefined ? undefined : string(key)),
    date: (key: string): string => {
      const text = string(key);
      if (Number.isNaN(Date.parse(text))) throw fail(key, "a date (ISO 8601)");
      return text;
    },
    version: () => {
      if (json.version !== 1) throw fail("version", "1 (this bun-acme reads version 1)");
      return 1 as const;
    },
  };
}

const CHALLENGES: readonly ChallengeType[] = ["http-01", "dns-01", "tls-alpn-01"];
const PORT = (value: unknown) => Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535;

/**
 * Validates `lineage.json`.
 *
 * @throws {StoreError} naming the file and the member that is wrong
 */
export function parseLineageConfig(json: Json, file: string): LineageConfig {
  const f = fields(json, file);
  const identifiers = json.identifiers;
  if (!Array.isArray(identifiers) || identifiers.length === 0 || !identifiers.every((item) =>
    typeof item === "object" && item !== null && (item.type === "dns" || item.type === "ip") && typeof item.value === "string"
  )) throw f.fail("identifiers", "a list of {type: dns|ip, value}");
  const challenge = f.string("challenge") as ChallengeType;
  if (!CHALLENGES.includes(challenge)) throw f.fail("challenge", CHALLENGES.join(", "));
  const ports = json.ports as Json | undefined;
  if (!ports || !PORT(ports.http) || !PORT(ports.tls) || !PORT(ports.dns)) throw f.fail("ports", "{http, tls, dns} port numbers");
  const hooks = (json.hooks ?? {}) as Json;
  if (typeof hooks !== "object" || Object.values(hooks).some((hook) => typeof hook !== "string")) throw f.fail("hooks", "{pre, post, deploy} commands");
  const optional = <K extends string>(key: K, value: string | undefined) => (value === undefined ? {} : { [key]: value }) as Partial<Record<K, string>>;
  return {
    version: f.version(),
    name: f.string("name"),
    identifiers: identifiers as Identifier[],
    directoryUrl: f.string("directoryUrl"),
    allowInsecureHttp: json.allowInsecureHttp === true,
    ...optional("caFile", f.optionalString("caFile")),
    challenge,
    keyType: f.string("keyType") as KeyType,
    bind: f.string("bind"),
    ports: { http: ports.http as number, tls: ports.tls as number, dns: ports.dns as number },
    ...optional("webroot", f.optionalString("webroot")),
    ...optional("record", f.optionalString("record")),
    ...optional("dnsHook", f.optionalString("dnsHook")),
    ...dnsUpdateOf(json.dnsUpdate, f.fail),
    hooks: hooks as LineageHooks,
    ...optional("profile", f.optionalString("profile")),
    ...optional("preferredChain", f.optionalString("preferredChain")),
    ...optional("out", f.optionalString("out")),
  };
}

/**
 * Validates `metadata.json`.
 *
 * @throws {StoreError} naming the file and the member that is wrong
 */
export function parseLineageMeta(json: Json, file: string): LineageMeta {
  const f = fields(json, file);
  const source = f.string("renewalSource");
  if (source !== "renewalInfo" && source !== "lifetime") throw f.fail("renewalSource", "renewalInfo or lifetime");
  const ariCertId = f.optionalString("ariCertId");
  const accountUrl = f.optionalString("accountUrl");
  const directoryUrl = f.optionalString("directoryUrl");
  const ariRetryAt = json.ariRetryAt === undefined ? undefined : f.date("ariRetryAt");
  return {
    version: f.version(),
    serial: f.string("serial"),
    notBefore: f.date("notBefore"),
    notAfter: f.date("notAfter"),
    ...(ariCertId ? { ariCertId } : {}),
    certificateUrl: f.string("certificateUrl"),
    ...(accountUrl ? { accountUrl } : {}),
    ...(directoryUrl ? { directoryUrl } : {}),
    obtainedAt: f.date("obtainedAt"),
    nextRenewal: f.date("nextRenewal"),
    renewalSource: source,
    ...(ariRetryAt ? { ariRetryAt } : {}),
  };
}

/**
 * The members of a configuration that make an instance run a command, read a local file or write
 * outside the store: what an unsealed record in a store that seals its records may not carry.
 */
export function powerfulMembers(config: LineageConfig): string[] {
  const members: string[] = [];
  if (Object.values(config.hooks).some((hook) => hook)) members.push("hooks");
  for (const key of ["dnsHook", "out", "webroot", "caFile"] as const) if (config[key] !== undefined) members.push(key);
  if (config.dnsUpdate?.tsig !== undefined) members.push("dnsUpdate.tsig");
  if (config.dnsUpdate?.tsigKeyFile !== undefined) members.push("dnsUpdate.tsigKeyFile");
  return members;
}

/**
 * Parses a configuration record of a shared store, as opened by its sealer. A record in clear in a
 * store whose instance holds the key is one written before records were sealed: read, unless it
 * names a command, a local file or a secret (someone without the key may have written it).
 *
 * @throws {StoreError} `ERR_STORE_UNSEALED` for such a record; `ERR_STORE_CORRUPT` for one that is not a configuration
 */
export function parseConfigRecord(opened: { text: string; authenticated: boolean }, where: string, storeSeals: boolean): { config: LineageConfig; authenticated: boolean } {
  const config = parseLineageConfig(parseJsonObject(opened.text, where), where);
  const powerful = storeSeals && !opened.authenticated ? powerfulMembers(config) : [];
  if (powerful.length > 0) {
    throw new StoreError(
      `${where}: the configuration is stored in clear but names ${powerful.join(", ")}, and this store's records are sealed with its key: refused (someone without the key may have written it); obtain the certificate again with certonly --force (with BUN_ACME_STORE_KEY set) to seal it`,
      "ERR_STORE_UNSEALED",
    );
  }
  return { config, authenticated: opened.authenticated };
}

function dnsUpdateOf(value: unknown, fail: (key: string, want: string) => StoreError): { dnsUpdate?: LineageDnsUpdate } {
  if (value === undefined) return {};
  const update = value as Json;
  const want = "{server, port, tsigKeyFile or tsig, propagationTimeoutSeconds}";
  if (typeof update !== "object" || update === null || typeof update.server !== "string" || !PORT(update.port) || typeof update.propagationTimeoutSeconds !== "number") {
    throw fail("dnsUpdate", want);
  }
  if ((update.tsigKeyFile !== undefined && typeof update.tsigKeyFile !== "string") || (update.tsig !== undefined && typeof update.tsig !== "string")) throw fail("dnsUpdate", want);
  return { dnsUpdate: update as unknown as LineageDnsUpdate };
}
