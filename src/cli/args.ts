/**
 * Command-line parsing and validation. Pure: argv in, options out, or a {@link UsageError}.
 */
import { parseRevocationReason } from "../acme/index.ts";
import type { Identifier } from "../acme/index.ts";
import { formatIp, parseIPv4, tryParseIp } from "../encoding/index.ts";
import { ACCOUNT_KEY_TYPES, KEY_TYPES, type KeyType } from "../jose/index.ts";

/** A mistake on the command line: exit code 2, one line, no stack trace. */
export class UsageError extends Error {
  readonly code = "ERR_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The challenge types selectable on the command line, as the ETH interface names them (`tls01` is tls-alpn-01). */
export type ChallengeOption = "http01" | "dns01" | "tls01";

/** Spellings accepted for each challenge type. */
const CHALLENGE_ALIASES: Readonly<Record<string, ChallengeOption>> = {
  http01: "http01",
  "http-01": "http01",
  dns01: "dns01",
  "dns-01": "dns01",
  tls01: "tls01",
  "tls-alpn01": "tls01",
  "tls-alpn-01": "tls01",
};

/** Everything the `http01`/`dns01` command needs. */
export interface CliOptions {
  readonly challenge: ChallengeOption;
  readonly directoryUrl: string;
  readonly record: string;
  /** Lowercase, deduplicated, in the order given (IP addresses in canonical form). */
  readonly domains: readonly string[];
  /** The same names as ACME identifiers: `dns`, or `ip` for addresses (RFC 8738). */
  readonly identifiers: readonly Identifier[];
  readonly revoke: boolean;
  readonly caFile: string | undefined;
  readonly outDir: string;
  readonly keyType: KeyType;
  readonly accountKeyType: KeyType;
  readonly contact: readonly string[];
  readonly bind: string;
  readonly ports: { readonly dns: number; readonly http: number; readonly https: number; readonly shutdown: number };
  readonly allowInsecureHttp: boolean;
  readonly quiet: boolean;
  /** Seconds allowed for obtaining (and revoking) the certificate. */
  readonly timeoutSeconds: number;
  /** External Account Binding credentials, both given or neither. */
  readonly eab: { readonly kid: string; readonly hmacKey: string } | undefined;
  /** RFC 5280 CRLReason code sent with --revoke. */
  readonly revokeReason: number | undefined;
  /** A certificate profile to ask for (draft-ietf-acme-profiles). */
  readonly profile: string | undefined;
  /** The previous certificate this one replaces (its ARI certificate ID goes into the order). */
  readonly replacesFile: string | undefined;
  /** A state directory holding a persistent account (key and URL), reused on later runs. */
  readonly stateDir: string | undefined;
  /** An account key file to use instead of a fresh key. */
  readonly accountKeyFile: string | undefined;
  /** A certificate key file to use instead of a fresh key. */
  readonly certKeyFile: string | undefined;
  /** A CSR made elsewhere: its names become the identifiers. */
  readonly csrFile: string | undefined;
  /** The issuer Common Name of the topmost certificate of the chain wanted. */
  readonly preferredChain: string | undefined;
}

/** Everything the `account` command needs. */
export interface AccountOptions {
  readonly directoryUrl: string;
  readonly stateDir: string;
  readonly contact: readonly string[] | undefined;
  readonly rollover: boolean;
  readonly deactivate: boolean;
  readonly accountKeyType: KeyType;
  readonly eab: { readonly kid: string; readonly hmacKey: string } | undefined;
  readonly caFile: string | undefined;
  readonly timeoutSeconds: number;
}

/** Everything the `renewal-info` command needs. */
export interface RenewalInfoOptions {
  readonly certFile: string;
  /** Without a directory, the advice falls back to 2/3 of the validity period. */
  readonly directoryUrl: string | undefined;
  readonly caFile: string | undefined;
  readonly timeoutSeconds: number;
}

/** Everything the `revoke` command needs. */
export interface RevokeOptions {
  readonly directoryUrl: string;
  readonly certFile: string;
  /** The certificate's own private key, which signs the request (RFC 8555 §7.6). */
  readonly certKeyFile: string;
  readonly reason: number | undefined;
  readonly caFile: string | undefined;
  readonly allowInsecureHttp: boolean;
  readonly timeoutSeconds: number;
}

/** What the command line asks for. */
export type ParsedCommand =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: CliOptions }
  | { readonly kind: "revoke"; readonly options: RevokeOptions }
  | { readonly kind: "renewal-info"; readonly options: RenewalInfoOptions }
  | { readonly kind: "account"; readonly options: AccountOptions };

/** Default ports of the ETH NetSec ACME project interface. */
export const DEFAULT_PORTS = { dns: 10053, http: 5002, https: 5001, shutdown: 5003 } as const;

/** The usage text shown by `--help`. */
export const USAGE = `Usage: bun-acme {http01|dns01|tls01} --dir URL --record IPv4 --domain NAME [--domain NAME ...] [options]

Obtains a certificate for every --domain from an ACME (RFC 8555) CA, proving control with its own
DNS server (dns01) or HTTP server (http01), serves it over HTTPS, and stops on GET /shutdown.

Required:
  http01 | dns01 | tls01  challenge type (wildcard names need dns01; tls01 is tls-alpn-01, RFC 8737,
                          answered on the --https-port, which serves the certificate afterwards)
  --dir URL               the CA's ACME directory, e.g. https://127.0.0.1:14000/dir
  --record IPv4           the address the DNS server answers for every A query
  --domain NAME           a name for the certificate; repeat for more (e.g. '*.example.net');
                          an IPv4 or IPv6 address asks for an IP identifier (RFC 8738, not with dns01)
  --ip ADDRESS            an IP address for the certificate, the same as --domain ADDRESS

Options:
  --revoke                revoke the certificate right after obtaining it (it is still served)
  --ca FILE               PEM root(s) to verify the CA's TLS certificate (else $BUN_ACME_CA, else
                          project/pebble.minica.pem when present, else the system roots)
  --out DIR               where cert.pem (full chain) and key.pem (mode 0600) go (default: certs)
  --key-type TYPE         certificate key: ${KEY_TYPES.join(", ")} (default: ec256)
  --account-key-type TYPE account key: the same or ed25519 (default: ec256)
  --eab-kid KID           External Account Binding key identifier from the CA (with --eab-hmac-key)
  --eab-hmac-key KEY      External Account Binding MAC key from the CA, base64url
  --revoke-reason REASON  with --revoke: an RFC 5280 reason by name or number, e.g. keyCompromise or 1
  --profile NAME          ask for a certificate profile the CA lists (e.g. shortlived)
  --replaces FILE         the certificate this one renews: its ARI ID goes into the order
  --state DIR             keep the account (key 0600 and URL) in DIR and reuse it on later runs
  --account-key FILE      use this account key (PKCS#8, SEC1 or PKCS#1 PEM)
  --cert-key FILE         use this certificate key instead of a fresh one (same formats)
  --csr FILE              use this CSR (PEM or DER); its names become the identifiers (no --domain)
  --preferred-chain CN    take the chain whose topmost certificate was issued by CN, when the CA
                          offers one (alternate chains); else the default chain
  --contact URI           account contact, e.g. mailto:admin@example.net (repeatable)
  --bind ADDR             address every server listens on (default: 0.0.0.0)
  --dns-port N            DNS server, UDP and TCP (default: ${DEFAULT_PORTS.dns})
  --http-port N           http-01 challenge server (default: ${DEFAULT_PORTS.http})
  --https-port N          certificate HTTPS server (default: ${DEFAULT_PORTS.https})
  --shutdown-port N       shutdown server, GET /shutdown (default: ${DEFAULT_PORTS.shutdown})
  --timeout SECONDS       give up obtaining the certificate after this long (default: 300)
  --allow-insecure-http   accept an http:// directory URL (never do this outside tests)
  --quiet                 print only errors and the final lines
  -h, --help              show this text
  --version               show the version

Other commands:
  bun-acme revoke --dir URL --cert FILE --cert-key FILE [--reason REASON] [--ca FILE]
                          revoke a certificate, signing with its own key; an already revoked
                          certificate is reported as such (exit 0)
  bun-acme account --dir URL --state DIR [--contact URI]... [--rollover] [--deactivate]
                          show the persistent account (creating it if needed), replace its
                          contacts, roll its key over (keyChange), or deactivate it
  bun-acme renewal-info --cert FILE [--dir URL] [--ca FILE]
                          when to renew: inside the CA's ARI window, else at 2/3 of the validity

Exit codes: 0 success, 1 the CA or the network failed, 2 a usage error.`;

/** Whether a flag takes a value. */
type FlagTable = Readonly<Record<string, { readonly takesValue: boolean }>>;

const COMMON_FLAGS: FlagTable = {
  "--dir": { takesValue: true },
  "--ca": { takesValue: true },
  "--allow-insecure-http": { takesValue: false },
  "--timeout": { takesValue: true },
  "--help": { takesValue: false },
  "-h": { takesValue: false },
  "--version": { takesValue: false },
};

const ISSUE_FLAGS: FlagTable = {
  ...COMMON_FLAGS,
  "--record": { takesValue: true },
  "--domain": { takesValue: true },
  "--ip": { takesValue: true },
  "--revoke": { takesValue: false },
  "--revoke-reason": { takesValue: true },
  "--out": { takesValue: true },
  "--key-type": { takesValue: true },
  "--account-key-type": { takesValue: true },
  "--contact": { takesValue: true },
  "--eab-kid": { takesValue: true },
  "--eab-hmac-key": { takesValue: true },
  "--bind": { takesValue: true },
  "--dns-port": { takesValue: true },
  "--http-port": { takesValue: true },
  "--https-port": { takesValue: true },
  "--shutdown-port": { takesValue: true },
  "--quiet": { takesValue: false },
  "--profile": { takesValue: true },
  "--replaces": { takesValue: true },
  "--state": { takesValue: true },
  "--account-key": { takesValue: true },
  "--cert-key": { takesValue: true },
  "--csr": { takesValue: true },
  "--preferred-chain": { takesValue: true },
};

const ACCOUNT_FLAGS: FlagTable = {
  ...COMMON_FLAGS,
  "--state": { takesValue: true },
  "--contact": { takesValue: true },
  "--rollover": { takesValue: false },
  "--deactivate": { takesValue: false },
  "--account-key-type": { takesValue: true },
  "--eab-kid": { takesValue: true },
  "--eab-hmac-key": { takesValue: true },
};

const RENEWAL_INFO_FLAGS: FlagTable = {
  ...COMMON_FLAGS,
  "--cert": { takesValue: true },
};

const REVOKE_FLAGS: FlagTable = {
  ...COMMON_FLAGS,
  "--cert": { takesValue: true },
  "--cert-key": { takesValue: true },
  "--reason": { takesValue: true },
};

/** Flags read from the command line: every value of each flag, and the positional arguments. */
class Flags {
  readonly values = new Map<string, string[]>();
  readonly positionals: string[] = [];

  constructor(argv: readonly string[], table: FlagTable) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith("-") || arg === "-") {
        this.positionals.push(arg);
        continue;
      }
      const eq = arg.indexOf("=");
      const flag = eq > 0 ? arg.slice(0, eq) : arg;
      const spec = table[flag];
      if (!spec) throw new UsageError(`unknown option ${flag}`);
      let value: string;
      if (!spec.takesValue) {
        if (eq > 0) throw new UsageError(`option ${flag} takes no value`);
        value = "";
      } else if (eq > 0) {
        value = arg.slice(eq + 1);
      } else {
        const next = argv[i + 1];
        if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new UsageError(`option ${flag} needs a value`);
        value = next;
        i++;
      }
      this.values.set(flag, [...(this.values.get(flag) ?? []), value]);
    }
  }

  has(flag: string): boolean {
    return this.values.has(flag);
  }

  all(flag: string): string[] {
    return this.values.get(flag) ?? [];
  }

  single(flag: string): string | undefined {
    const given = this.values.get(flag);
    if (given && given.length > 1) throw new UsageError(`option ${flag} was given more than once`);
    return given?.[0];
  }

  required(flag: string, what: string): string {
    const value = this.single(flag);
    if (value === undefined || value === "") throw new UsageError(`missing ${flag} ${what}`);
    return value;
  }
}

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} for a missing, unknown or malformed argument
 */
export function parseArgs(argv: readonly string[]): ParsedCommand {
  if (argv.includes("--help") || argv.includes("-h")) return { kind: "help" };
  if (argv.includes("--version")) return { kind: "version" };
  const command = argv.find((arg) => !arg.startsWith("-"));
  if (command === "revoke") return { kind: "revoke", options: parseRevoke(argv.filter((arg) => arg !== command)) };
  if (command === "account") return { kind: "account", options: parseAccount(argv.filter((arg) => arg !== command)) };
  if (command === "renewal-info") return { kind: "renewal-info", options: parseRenewalInfo(argv.filter((arg) => arg !== command)) };
  return { kind: "run", options: parseIssue(argv) };
}

function parseIssue(argv: readonly string[]): CliOptions {
  const flags = new Flags(argv, ISSUE_FLAGS);
  const { positionals } = flags;
  if (positionals.length === 0) throw new UsageError("missing the challenge type: http01, dns01 or tls01");
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const challenge = CHALLENGE_ALIASES[positionals[0]!];
  if (!challenge) throw new UsageError(`unknown challenge type "${positionals[0]}": use http01, dns01 or tls01`);

  const allowInsecureHttp = flags.has("--allow-insecure-http");
  const directoryUrl = parseDirectoryUrl(flags.required("--dir", "URL (the CA's ACME directory)"), allowInsecureHttp);
  const record = flags.required("--record", "IPv4 (the address for A answers)");
  try {
    parseIPv4(record);
  } catch {
    throw new UsageError(`--record "${record}" is not an IPv4 address like 127.0.0.1`);
  }
  const nameValues = [...flags.all("--domain"), ...flags.all("--ip")];
  const csrFile = flags.single("--csr");
  if (csrFile !== undefined && nameValues.length > 0) throw new UsageError("--csr names the identifiers itself: drop --domain and --ip");
  if (nameValues.length === 0 && csrFile === undefined) throw new UsageError("missing --domain NAME (repeat it for more names)");
  for (const value of flags.all("--ip")) {
    if (!tryParseIp(value)) throw new UsageError(`--ip "${value}" is not an IPv4 or IPv6 address`);
  }
  const identifiers = uniqueIdentifiers(nameValues.map((name) => normalizeIdentifier(name, challenge)));
  const domains = identifiers.map((identifier) => identifier.value);
  const revokeReason = flags.single("--revoke-reason");
  if (revokeReason !== undefined && !flags.has("--revoke")) throw new UsageError("--revoke-reason needs --revoke");

  return {
    challenge,
    directoryUrl,
    record,
    domains,
    identifiers,
    revoke: flags.has("--revoke"),
    caFile: flags.single("--ca"),
    outDir: flags.single("--out") ?? "certs",
    keyType: parseKeyType("--key-type", flags.single("--key-type"), KEY_TYPES),
    accountKeyType: parseKeyType("--account-key-type", flags.single("--account-key-type"), ACCOUNT_KEY_TYPES),
    contact: flags.all("--contact").map(parseContact),
    bind: flags.single("--bind") ?? "0.0.0.0",
    ports: {
      dns: parsePort("--dns-port", flags.single("--dns-port"), DEFAULT_PORTS.dns),
      http: parsePort("--http-port", flags.single("--http-port"), DEFAULT_PORTS.http),
      https: parsePort("--https-port", flags.single("--https-port"), DEFAULT_PORTS.https),
      shutdown: parsePort("--shutdown-port", flags.single("--shutdown-port"), DEFAULT_PORTS.shutdown),
    },
    allowInsecureHttp,
    quiet: flags.has("--quiet"),
    timeoutSeconds: parseTimeout(flags.single("--timeout")),
    eab: parseEab(flags),
    revokeReason: revokeReason === undefined ? undefined : parseReason("--revoke-reason", revokeReason),
    profile: flags.single("--profile"),
    replacesFile: flags.single("--replaces"),
    stateDir: flags.single("--state"),
    accountKeyFile: flags.single("--account-key"),
    certKeyFile: flags.single("--cert-key"),
    csrFile,
    preferredChain: flags.single("--preferred-chain"),
  };
}

function parseEab(flags: Flags): { kid: string; hmacKey: string } | undefined {
  const kid = flags.single("--eab-kid");
  const hmacKey = flags.single("--eab-hmac-key");
  if ((kid === undefined) !== (hmacKey === undefined)) throw new UsageError("External Account Binding needs both --eab-kid and --eab-hmac-key");
  if (hmacKey !== undefined && !/^[A-Za-z0-9_-]+={0,2}$/.test(hmacKey)) {
    throw new UsageError("--eab-hmac-key is not base64url: give the MAC key exactly as the CA shows it");
  }
  return kid !== undefined && hmacKey !== undefined ? { kid, hmacKey } : undefined;
}

function parseAccount(argv: readonly string[]): AccountOptions {
  const flags = new Flags(argv, ACCOUNT_FLAGS);
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  if (flags.has("--rollover") && flags.has("--deactivate")) throw new UsageError("choose one of --rollover and --deactivate");
  return {
    directoryUrl: parseDirectoryUrl(flags.required("--dir", "URL (the CA's ACME directory)"), flags.has("--allow-insecure-http")),
    stateDir: flags.required("--state", "DIR (where the account key and URL are kept)"),
    contact: flags.has("--contact") ? flags.all("--contact").map(parseContact) : undefined,
    rollover: flags.has("--rollover"),
    deactivate: flags.has("--deactivate"),
    accountKeyType: parseKeyType("--account-key-type", flags.single("--account-key-type"), ACCOUNT_KEY_TYPES),
    eab: parseEab(flags),
    caFile: flags.single("--ca"),
    timeoutSeconds: parseTimeout(flags.single("--timeout")),
  };
}

function parseRenewalInfo(argv: readonly string[]): RenewalInfoOptions {
  const flags = new Flags(argv, RENEWAL_INFO_FLAGS);
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const dir = flags.single("--dir");
  return {
    certFile: flags.required("--cert", "FILE (the certificate, PEM)"),
    directoryUrl: dir === undefined ? undefined : parseDirectoryUrl(dir, flags.has("--allow-insecure-http")),
    caFile: flags.single("--ca"),
    timeoutSeconds: parseTimeout(flags.single("--timeout")),
  };
}

function parseRevoke(argv: readonly string[]): RevokeOptions {
  const flags = new Flags(argv, REVOKE_FLAGS);
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const allowInsecureHttp = flags.has("--allow-insecure-http");
  const reason = flags.single("--reason");
  return {
    directoryUrl: parseDirectoryUrl(flags.required("--dir", "URL (the CA's ACME directory)"), allowInsecureHttp),
    certFile: flags.required("--cert", "FILE (the certificate to revoke, PEM)"),
    certKeyFile: flags.required("--cert-key", "FILE (the certificate's private key, PEM, which signs the request)"),
    reason: reason === undefined ? undefined : parseReason("--reason", reason),
    caFile: flags.single("--ca"),
    allowInsecureHttp,
    timeoutSeconds: parseTimeout(flags.single("--timeout")),
  };
}

function parseReason(flag: string, value: string): number {
  try {
    return parseRevocationReason(value);
  } catch (error) {
    throw new UsageError(`${flag} ${(error as Error).message}`);
  }
}

function parseDirectoryUrl(text: string, allowInsecureHttp: boolean): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--dir "${text}" is not a URL; give the CA's directory, e.g. https://127.0.0.1:14000/dir`);
  }
  if (url.protocol === "http:" && !allowInsecureHttp) {
    throw new UsageError(`--dir "${text}" uses http://; ACME needs https:// (add --allow-insecure-http only for a test CA)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new UsageError(`--dir "${text}" must be an https:// URL`);
  return url.href;
}

/**
 * Reads one `--domain` value as an ACME identifier: an IP address (RFC 8738, in canonical form)
 * or a DNS name (see {@link normalizeDomain}).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8738#section-3
 * @throws {UsageError} for an invalid name, or an IP address with dns01
 */
export function normalizeIdentifier(text: string, challenge: ChallengeOption): Identifier {
  const bytes = tryParseIp(text.replace(/^\[(.*)\]$/, "$1"));
  if (!bytes) return { type: "dns", value: normalizeDomain(text, challenge) };
  if (challenge === "dns01") {
    throw new UsageError(`--domain "${text}" is an IP address, which dns01 cannot prove (RFC 8738 §7): run with http01`);
  }
  return { type: "ip", value: formatIp(bytes) };
}

function uniqueIdentifiers(identifiers: readonly Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return identifiers.filter((identifier) => {
    const key = `${identifier.type}:${identifier.value}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * Checks and normalizes a domain name: lowercase, no trailing dot, LDH labels of 1-63 characters,
 * at most 253 characters, `*` only as the whole leftmost label, and wildcards only with dns01.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1123#section-2.1
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3 (wildcards)
 * @throws {UsageError} naming what is wrong
 */
export function normalizeDomain(text: string, challenge: ChallengeOption): string {
  const name = text.toLowerCase().replace(/\.$/, "");
  if (name === "") throw new UsageError("--domain is empty");
  if (name.length > 253) throw new UsageError(`--domain "${text}" is longer than 253 characters`);
  const labels = name.split(".");
  labels.forEach((label, index) => {
    if (label === "") throw new UsageError(`--domain "${text}" has an empty label`);
    if (label.length > 63) throw new UsageError(`--domain "${text}" has a label longer than 63 characters`);
    if (label === "*" && index === 0) return;
    if (label.includes("*")) throw new UsageError(`--domain "${text}": a wildcard must be the whole leftmost label, as in *.example.net`);
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(label)) {
      throw new UsageError(`--domain "${text}": label "${label}" may hold only letters, digits and inner hyphens`);
    }
  });
  if (labels[0] === "*" && labels.length < 2) throw new UsageError(`--domain "${text}": a wildcard needs a name after "*."`);
  if (labels[0] === "*" && challenge !== "dns01") {
    throw new UsageError(`--domain "${text}" is a wildcard, which only dns01 can prove: run with dns01`);
  }
  return name;
}

function parseKeyType(flag: string, value: string | undefined, allowed: readonly KeyType[]): KeyType {
  if (value === undefined) return "ec256";
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} "${value}" is not one of ${allowed.join(", ")}`);
  return value as KeyType;
}

function parsePort(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`${flag} "${value}" is not a port number (1-65535)`);
  return port;
}

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 300;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 86_400) {
    throw new UsageError(`--timeout "${value}" is not a number of seconds between 0 and 86400`);
  }
  return seconds;
}

function parseContact(value: string): string {
  if (/^mailto:[^@\s]+@[^@\s]+$/.test(value)) return value;
  if (/^[^@\s:]+@[^@\s]+$/.test(value)) return `mailto:${value}`;
  throw new UsageError(`--contact "${value}" is not an email address or mailto: URI`);
}
