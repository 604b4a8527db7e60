/**
 * Command-line parsing and validation. Pure: argv in, options out, or a {@link UsageError}.
 */
import { parseIPv4 } from "../encoding/index.ts";
import { KEY_TYPES, type KeyType } from "../jose/index.ts";

/** A mistake on the command line: exit code 2, one line, no stack trace. */
export class UsageError extends Error {
  readonly code = "ERR_USAGE";
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The challenge types selectable on the command line, as the ETH interface names them. */
export type ChallengeOption = "http01" | "dns01";

/** Everything the `http01`/`dns01` command needs. */
export interface CliOptions {
  readonly challenge: ChallengeOption;
  readonly directoryUrl: string;
  readonly record: string;
  /** Lowercase, deduplicated, in the order given. */
  readonly domains: readonly string[];
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
}

/** What the command line asks for. */
export type ParsedCommand = { readonly kind: "help" } | { readonly kind: "version" } | { readonly kind: "run"; readonly options: CliOptions };

/** Default ports of the ETH NetSec ACME project interface. */
export const DEFAULT_PORTS = { dns: 10053, http: 5002, https: 5001, shutdown: 5003 } as const;

/** The usage text shown by `--help`. */
export const USAGE = `Usage: bun-acme {http01|dns01} --dir URL --record IPv4 --domain NAME [--domain NAME ...] [options]

Obtains a certificate for every --domain from an ACME (RFC 8555) CA, proving control with its own
DNS server (dns01) or HTTP server (http01), serves it over HTTPS, and stops on GET /shutdown.

Required:
  http01 | dns01          challenge type (wildcard names need dns01)
  --dir URL               the CA's ACME directory, e.g. https://127.0.0.1:14000/dir
  --record IPv4           the address the DNS server answers for every A query
  --domain NAME           a name for the certificate; repeat for more (e.g. '*.example.net')

Options:
  --revoke                revoke the certificate right after obtaining it (it is still served)
  --ca FILE               PEM root(s) to verify the CA's TLS certificate (else $BUN_ACME_CA, else
                          project/pebble.minica.pem when present, else the system roots)
  --out DIR               where cert.pem (full chain) and key.pem (mode 0600) go (default: certs)
  --key-type TYPE         certificate key: ${KEY_TYPES.join(", ")} (default: ec256)
  --account-key-type TYPE account key: same choices (default: ec256)
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

Exit codes: 0 success, 1 the CA or the network failed, 2 a usage error.`;

interface FlagSpec {
  readonly takesValue: boolean;
}

const FLAGS: Record<string, FlagSpec> = {
  "--dir": { takesValue: true },
  "--record": { takesValue: true },
  "--domain": { takesValue: true },
  "--revoke": { takesValue: false },
  "--ca": { takesValue: true },
  "--out": { takesValue: true },
  "--key-type": { takesValue: true },
  "--account-key-type": { takesValue: true },
  "--contact": { takesValue: true },
  "--bind": { takesValue: true },
  "--dns-port": { takesValue: true },
  "--http-port": { takesValue: true },
  "--https-port": { takesValue: true },
  "--shutdown-port": { takesValue: true },
  "--allow-insecure-http": { takesValue: false },
  "--quiet": { takesValue: false },
  "--timeout": { takesValue: true },
  "--help": { takesValue: false },
  "-h": { takesValue: false },
  "--version": { takesValue: false },
};

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} for a missing, unknown or malformed argument
 */
export function parseArgs(argv: readonly string[]): ParsedCommand {
  const values = new Map<string, string[]>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = FLAGS[flag];
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
    values.set(flag, [...(values.get(flag) ?? []), value]);
  }
  if (values.has("--help") || values.has("-h")) return { kind: "help" };
  if (values.has("--version")) return { kind: "version" };

  const single = (flag: string): string | undefined => {
    const given = values.get(flag);
    if (given && given.length > 1) throw new UsageError(`option ${flag} was given more than once`);
    return given?.[0];
  };
  const required = (flag: string, what: string): string => {
    const value = single(flag);
    if (value === undefined || value === "") throw new UsageError(`missing ${flag} ${what}`);
    return value;
  };

  if (positionals.length === 0) throw new UsageError("missing the challenge type: http01 or dns01");
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
  const challenge = positionals[0]!;
  if (challenge !== "http01" && challenge !== "dns01") {
    throw new UsageError(`unknown challenge type "${challenge}": use http01 or dns01`);
  }

  const allowInsecureHttp = values.has("--allow-insecure-http");
  const directoryUrl = parseDirectoryUrl(required("--dir", "URL (the CA's ACME directory)"), allowInsecureHttp);
  const record = required("--record", "IPv4 (the address for A answers)");
  try {
    parseIPv4(record);
  } catch {
    throw new UsageError(`--record "${record}" is not an IPv4 address like 127.0.0.1`);
  }
  const domainValues = values.get("--domain") ?? [];
  if (domainValues.length === 0) throw new UsageError("missing --domain NAME (repeat it for more names)");
  const domains = [...new Set(domainValues.map((name) => normalizeDomain(name, challenge)))];

  return {
    kind: "run",
    options: {
      challenge,
      directoryUrl,
      record,
      domains,
      revoke: values.has("--revoke"),
      caFile: single("--ca"),
      outDir: single("--out") ?? "certs",
      keyType: parseKeyType("--key-type", single("--key-type")),
      accountKeyType: parseKeyType("--account-key-type", single("--account-key-type")),
      contact: (values.get("--contact") ?? []).map(parseContact),
      bind: single("--bind") ?? "0.0.0.0",
      ports: {
        dns: parsePort("--dns-port", single("--dns-port"), DEFAULT_PORTS.dns),
        http: parsePort("--http-port", single("--http-port"), DEFAULT_PORTS.http),
        https: parsePort("--https-port", single("--https-port"), DEFAULT_PORTS.https),
        shutdown: parsePort("--shutdown-port", single("--shutdown-port"), DEFAULT_PORTS.shutdown),
      },
      allowInsecureHttp,
      quiet: values.has("--quiet"),
      timeoutSeconds: parseTimeout(single("--timeout")),
    },
  };
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

function parseKeyType(flag: string, value: string | undefined): KeyType {
  if (value === undefined) return "ec256";
  if (!(KEY_TYPES as readonly string[]).includes(value)) throw new UsageError(`${flag} "${value}" is not one of ${KEY_TYPES.join(", ")}`);
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
