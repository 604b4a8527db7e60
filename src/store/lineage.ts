/**
 * A lineage: one certificate over its renewals. Its configuration says how it was obtained (so
 * that `renew` needs no flags); its metadata says what is current and when to renew it. Both are
 * JSON, read back through the validators here, which name the file and what is wrong with it.
 */
import type { Identifier } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import { KEY_TYPES, type KeyType } from "../jose/index.ts";
import { defined, fail, field, objectOf, sourceOf, within, type Source } from "../validate/index.ts";
import { version1ToVersion2 } from "./lineage-v1.ts";
import { parseSolverSpec, powerfulSolverMembers, type SolverSpec } from "./solver-spec.ts";

/** Commands run around an issuance, as certbot's `--pre-hook`, `--post-hook`, `--deploy-hook`. */
export interface LineageHooks {
  readonly pre?: string;
  readonly post?: string;
  readonly deploy?: string;
}

/**
 * What only the command line acts on, kept apart from the certificate: its hooks and the folder
 * it copies the certificate to. `manage()` and the lifecycle engine never read it.
 */
export interface LineageCliExtras {
  readonly hooks?: LineageHooks;
  /** A folder that gets copies (cert.pem, chain.pem, fullchain.pem, privkey.pem) after every issuance. */
  readonly out?: string;
}

/**
 * A lineage's certificate: its names, its CA, its key type, profile and chain preference, and how
 * its names are proven (`solver`, a serialisable spec). `lineage.json` holds it as version 2;
 * version 1 files (before the solver was a spec of its own) are read as version 2 and written back
 * as version 2 on the next save.
 */
export interface LineageConfig {
  readonly version: 2;
  readonly name: string;
  readonly identifiers: readonly Identifier[];
  readonly directoryUrl: string;
  readonly allowInsecureHttp: boolean;
  /** PEM roots that verify the CA, when not the system's. */
  readonly caFile?: string;
  readonly keyType: KeyType;
  readonly profile?: string;
  readonly preferredChain?: string;
  readonly solver: SolverSpec;
  /** The command line's hooks and `--out` folder (absent: none). */
  readonly cli?: LineageCliExtras;
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

type Json = Readonly<Record<string, unknown>>;

/**
 * The source of a store file or record for the validator: a bad field is a {@link StoreError}
 * (`ERR_STORE_CORRUPT`) naming the file and the field, with the {@link FieldError} as its cause.
 */
export function storeSource(file: string): Source {
  return sourceOf(file, (error) =>
    new StoreError(
      error.field === "" ? `${error.message}; it was not overwritten: restore or remove it` : `${error.source}: "${error.field}" should be ${error.expected}; the file was not overwritten: restore or remove it`,
      "ERR_STORE_CORRUPT",
      { cause: error },
    ));
}

/** Reads a JSON object from text, naming the file when it is not one. */
export function parseJsonObject(text: string, file: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoreError(`${file} is not valid JSON (${(error as Error).message}); it was not overwritten: restore or remove it`, "ERR_STORE_CORRUPT");
  }
  return objectOf(value, storeSource(file));
}

const VERSIONS = "1 or 2 (this bun-acme reads versions 1 and 2)";

/**
 * Validates `lineage.json` (version 2, or version 1 read as version 2).
 *
 * @throws {StoreError} `ERR_STORE_CORRUPT` naming the file and the member that is wrong
 */
export function parseLineageConfig(json: Json, file: string): LineageConfig {
  const where = storeSource(file);
  if (json.version === 1) json = version1ToVersion2(json, where);
  if (json.version !== 2) return fail(where, "version", VERSIONS, json.version);
  field.known(json, where, ["version", "name", "identifiers", "directoryUrl", "allowInsecureHttp", "caFile", "keyType", "profile", "preferredChain", "solver", "cli"]);
  const solver = field.object(json, "solver", where);
  const cli = field.optionalObject(json, "cli", where);
  return defined({
    version: 2 as const,
    name: lineageNameOf(json, where),
    identifiers: identifiersOf(json, where),
    directoryUrl: field.url(json, "directoryUrl", where),
    allowInsecureHttp: field.optionalBoolean(json, "allowInsecureHttp", where) ?? false,
    caFile: field.optionalString(json, "caFile", where),
    keyType: field.oneOf(json, "keyType", where, KEY_TYPES),
    profile: field.optionalString(json, "profile", where),
    preferredChain: field.optionalString(json, "preferredChain", where),
    solver: parseSolverSpec(solver.fields, solver.where),
    cli: cli && cliExtrasOf(cli.fields, cli.where),
  });
}

/**
 * Reads a lineage configuration from the text a store holds (`lineage.json`, a Redis or
 * PostgreSQL record, the memory store's copy): the one parser every store goes through.
 *
 * @throws {StoreError} `ERR_STORE_CORRUPT` naming `where` and the member that is wrong
 */
export function readLineageConfig(text: string, where: string, storedAs?: string): LineageConfig {
  const config = parseLineageConfig(parseJsonObject(text, where), where);
  if (storedAs !== undefined && config.name !== storedAs) {
    // A lineage.json copied or edited by hand: renewing it would order into another lineage (or write outside the store).
    throw new StoreError(`${where}: "name" is ${JSON.stringify(config.name)}, but the lineage is stored as "${storedAs}": restore its name (or the file)`, "ERR_STORE_CORRUPT");
  }
  return config;
}

/** `name`: a lineage name ({@link checkLineageName}), as a store may use it for a folder or a key. */
function lineageNameOf(json: Json, where: Source): string {
  const name = field.string(json, "name", where);
  try {
    return checkLineageName(name);
  } catch {
    return fail(where, "name", "a lineage name (letters, digits, dots, dashes, underscores; no \"..\")", name);
  }
}

/** The configuration as a store writes it (JSON, version 2). */
export function serializeLineageConfig(config: LineageConfig): string {
  return JSON.stringify(config);
}

/** A list of `{type: "dns" | "ip", value}`, at least one. */
export function identifiersOf(json: Json, where: Source): Identifier[] {
  const items = field.array(json, "identifiers", where);
  if (items.length === 0) fail(where, "identifiers", "a list of {type: dns|ip, value}", items);
  return items.map((item, index) => {
    const at = within(where, `identifiers.${index}`);
    const identifier = objectOf(item, where, `identifiers.${index}`);
    return { type: field.oneOf(identifier, "type", at, ["dns", "ip"] as const), value: field.string(identifier, "value", at) };
  });
}

/** The `cli` member: `hooks` (`pre`, `post`, `deploy` commands) and `out`. */
function cliExtrasOf(cli: Json, where: Source): LineageCliExtras | undefined {
  field.known(cli, where, ["hooks", "out"]);
  const hooks = field.optionalObject(cli, "hooks", where);
  if (hooks) field.known(hooks.fields, hooks.where, ["pre", "post", "deploy"]);
  const read = (key: keyof LineageHooks) => hooks && field.optionalString(hooks.fields, key, hooks.where, { empty: true });
  return cliExtras(defined({ pre: read("pre"), post: read("post"), deploy: read("deploy") }), field.optionalString(cli, "out", where));
}

/** The `cli` member for some hooks and an `--out` folder: absent when there are none (an empty command is none). */
export function cliExtras(hooks: LineageHooks, out: string | undefined): LineageCliExtras | undefined {
  const given = Object.fromEntries(Object.entries(hooks).filter(([, command]) => command)) as LineageHooks;
  const some = Object.keys(given).length > 0;
  if (!some && out === undefined) return undefined;
  return { ...(some ? { hooks: given } : {}), ...(out !== undefined ? { out } : {}) };
}

/**
 * Validates `metadata.json`.
 *
 * @throws {StoreError} naming the file and the member that is wrong
 */
export function parseLineageMeta(json: Json, file: string): LineageMeta {
  const where = storeSource(file);
  if (json.version !== 1) fail(where, "version", "1 (this bun-acme reads version 1)", json.version);
  return defined({
    version: 1 as const,
    serial: field.string(json, "serial", where),
    notBefore: field.date(json, "notBefore", where),
    notAfter: field.date(json, "notAfter", where),
    ariCertId: field.optionalString(json, "ariCertId", where),
    certificateUrl: field.string(json, "certificateUrl", where),
    accountUrl: field.optionalString(json, "accountUrl", where),
    directoryUrl: field.optionalString(json, "directoryUrl", where),
    obtainedAt: field.date(json, "obtainedAt", where),
    nextRenewal: field.date(json, "nextRenewal", where),
    renewalSource: field.oneOf(json, "renewalSource", where, ["renewalInfo", "lifetime"] as const),
    ariRetryAt: field.optionalDate(json, "ariRetryAt", where),
  });
}

/**
 * The members of a configuration that make an instance run a command, read a local file or write
 * outside the store: what an unsealed record in a store that seals its records may not carry.
 */
export function powerfulMembers(config: LineageConfig): string[] {
  const members: string[] = [];
  if (Object.values(config.cli?.hooks ?? {}).some((hook) => hook)) members.push("cli.hooks");
  if (config.cli?.out !== undefined) members.push("cli.out");
  if (config.caFile !== undefined) members.push("caFile");
  return [...members, ...powerfulSolverMembers(config.solver)];
}

/**
 * Parses a configuration record of a shared store, as opened by its sealer. A record in clear in a
 * store whose instance holds the key is one written before records were sealed: read, unless it
 * names a command, a local file or a secret (someone without the key may have written it).
 *
 * @throws {StoreError} `ERR_STORE_UNSEALED` for such a record; `ERR_STORE_CORRUPT` for one that is not a configuration
 */
export function parseConfigRecord(opened: { text: string; authenticated: boolean }, where: string, storeSeals: boolean, storedAs?: string): { config: LineageConfig; authenticated: boolean } {
  const config = readLineageConfig(opened.text, where, storedAs);
  const powerful = storeSeals && !opened.authenticated ? powerfulMembers(config) : [];
  if (powerful.length > 0) {
    throw new StoreError(
      `${where}: the configuration is stored in clear but names ${powerful.join(", ")}, and this store's records are sealed with its key: refused (someone without the key may have written it); obtain the certificate again with certonly --force (with BUN_ACME_STORE_KEY set) to seal it`,
      "ERR_STORE_UNSEALED",
    );
  }
  return { config, authenticated: opened.authenticated };
}
