/**
 * Every command-line flag, declared once: the parser reads this table and the usage text is made
 * from it.
 */
import { KEY_TYPES, ACCOUNT_KEY_TYPES } from "../jose/index.ts";
import { CA_PRESETS } from "../acme/index.ts";
import { UsageError } from "./errors.ts";

/** One flag: its value's placeholder (none for a switch), whether it repeats, and its help. */
interface FlagSpec {
  readonly value?: string;
  readonly repeats?: boolean;
  readonly help: string;
}

/** Default ports of the ETH NetSec ACME project interface. */
export const DEFAULT_PORTS = { dns: 10053, http: 5002, https: 5001, shutdown: 5003 } as const;

/** The flags of every command. */
export const FLAGS = {
  "--dir": { value: "URL", help: `the CA's ACME directory URL, or one of ${Object.keys(CA_PRESETS).join(", ")}` },
  "--ca": { value: "FILE", help: "PEM root(s) to verify the CA's TLS certificate (else $BUN_ACME_CA, else project/pebble.minica.pem when present, else the system roots)" },
  "--allow-insecure-http": { help: "accept an http:// directory URL (never do this outside tests)" },
  "--timeout": { value: "SECONDS", help: "give up after this long, hooks included (default: 300)" },
  "--record": { value: "IPv4", help: "the address the DNS server answers for every A query" },
  "--domain": { value: "NAME", repeats: true, help: "a name for the certificate (e.g. '*.example.net'); an IPv4 or IPv6 address asks for an IP identifier (RFC 8738)" },
  "--ip": { value: "ADDRESS", repeats: true, help: "an IP address for the certificate, the same as --domain ADDRESS" },
  "--revoke": { help: "revoke the certificate right after obtaining it (it is still served)" },
  "--revoke-reason": { value: "REASON", help: "with --revoke: an RFC 5280 reason by name or number, e.g. keyCompromise or 1" },
  "--out": { value: "DIR", help: "the ETH command: where cert.pem (full chain) and key.pem (0600) go (default: certs); certonly: a folder (made 0700) that gets cert.pem (the leaf), chain.pem, fullchain.pem and privkey.pem (0600) after every issuance, saved with the lineage" },
  "--key-type": { value: "TYPE", help: `certificate key: ${KEY_TYPES.join(", ")} (default: ec256)` },
  "--account-key-type": { value: "TYPE", help: `account key: ${ACCOUNT_KEY_TYPES.join(", ")} (default: ec256)` },
  "--contact": { value: "URI", repeats: true, help: "account contact, e.g. mailto:admin@example.net" },
  "--eab-kid": { value: "KID", help: "External Account Binding key identifier from the CA (with --eab-hmac-key)" },
  "--eab-hmac-key": { value: "KEY", help: "External Account Binding MAC key from the CA, base64url" },
  "--bind": { value: "ADDR", help: "address every server listens on (default: 0.0.0.0)" },
  "--dns-port": { value: "N", help: `DNS server, UDP and TCP (default: ${DEFAULT_PORTS.dns}; certonly: 53)` },
  "--http-port": { value: "N", help: `http-01 challenge server (default: ${DEFAULT_PORTS.http}; certonly: 80)` },
  "--https-port": { value: "N", help: `certificate HTTPS server, and the tls-alpn-01 responder before it (default: ${DEFAULT_PORTS.https}; certonly: 443)` },
  "--shutdown-port": { value: "N", help: `shutdown server, GET /shutdown (default: ${DEFAULT_PORTS.shutdown})` },
  "--quiet": { help: "print only errors and the final lines" },
  "--profile": { value: "NAME", help: "ask for a certificate profile the CA lists (e.g. shortlived)" },
  "--replaces": { value: "FILE", help: "the certificate this one renews: its ARI ID goes into the order" },
  "--state": { value: "DIR", help: "keep the account (key 0600 and URL) in DIR and reuse it on later runs; certonly, renew and certificates keep their lineages there too (default for those: /var/lib/bun-acme for root, else $XDG_STATE_HOME/bun-acme or ~/.local/state/bun-acme)" },
  "--store": { value: "URL|DIR", help: "the certificate store of certonly, renew and certificates: a folder (as --state), or a redis:// or postgres:// URL shared by a fleet (BUN_ACME_STORE_KEY, base64 of 32 bytes, encrypts the private keys there)" },
  "--webroot": { value: "DIR", help: "http-01 through a web server already serving DIR: the challenge file goes to DIR/.well-known/acme-challenge/" },
  "--cert-name": { value: "NAME", help: "the lineage's name in the store (default: the first --domain, without '*.')" },
  "--pre-hook": { value: "CMD", help: "shell command run before obtaining (once per run); certonly saves it with the lineage, renew uses it instead of the saved hooks" },
  "--post-hook": { value: "CMD", help: "shell command run after obtaining (once per run); certonly saves it with the lineage, renew uses it instead of the saved hooks" },
  "--deploy-hook": { value: "CMD", help: "shell command run after each certificate obtained, with RENEWED_LINEAGE (a folder holding cert.pem, chain.pem, fullchain.pem, privkey.pem) and RENEWED_DOMAINS; certonly saves it, renew uses it instead of the saved hooks. Hooks get PATH, HOME and the locale, not the rest of the environment; hooks saved in a shared store run only when sealed with BUN_ACME_STORE_KEY" },
  "--hook-timeout": { value: "SECONDS", help: "kill a hook (and whatever it started) after this long (default: 300; never beyond --timeout)" },
  "--verbose": { help: "also print the hooks' output as they run" },
  "--force": { help: "obtain a new certificate even when the current one is not due" },
  "--dry-run": { help: "the whole exchange with the CA, but nothing is saved and no deploy hook runs" },
  "--json": { help: "print one JSON object per event instead of text" },
  "--to": { value: "SERIAL", help: "rollback: the archived certificate to make current (default: the newest archived)" },
  "--config": { value: "FILE", help: "the daemon's TOML configuration (see project/serve.example.toml)" },
  "--dns-update": { value: "SERVER[:PORT]", help: "dns01: add the TXT records with RFC 2136 updates on this name server (the zone's primary), instead of the built-in DNS server" },
  "--tsig-key": { value: "FILE", help: "with --dns-update: the TSIG key, a BIND key file as tsig-keygen writes it" },
  "--tsig": { value: "ALG:NAME:SECRET", help: "with --dns-update: the TSIG key inline, e.g. hmac-sha256:acme-key:<base64> (saved in lineage.json, mode 0600)" },
  "--dns-propagation-timeout": { value: "SECONDS", help: "with --dns-update: wait at most this long for every authoritative server to serve the record (default: 120)" },
  "--dns-hook": { value: "CMD", help: "dns01: run CMD present NAME VALUE and CMD cleanup NAME VALUE instead of a DNS server (any provider's API)" },
  "--lock-wait": { value: "SECONDS", help: "how long to wait for a lineage another run is working on (default: 30)" },
  "--account-key": { value: "FILE", help: "use this account key (PKCS#8, SEC1 or PKCS#1 PEM)" },
  "--cert-key": { value: "FILE", help: "the certificate's private key (PKCS#8, SEC1 or PKCS#1 PEM)" },
  "--csr": { value: "FILE", help: "use this CSR (PEM or DER); its names become the identifiers (no --domain)" },
  "--preferred-chain": { value: "CN", help: "take the chain whose topmost certificate was issued by CN, when the CA offers one" },
  "--cert": { value: "FILE", help: "the certificate, PEM" },
  "--reason": { value: "REASON", help: "an RFC 5280 revocation reason by name or number, e.g. keyCompromise or 1" },
  "--rollover": { help: "give the account a new key (keyChange); the new key is saved once the CA accepted it" },
  "--deactivate": { help: "deactivate the account for good" },
  "--help": { help: "show this text" },
  "--version": { help: "show the version" },
} as const satisfies Record<string, FlagSpec>;

/** A flag's name. */
export type FlagName = keyof typeof FLAGS;

/** The flags every command takes. */
export const COMMON_FLAGS: readonly FlagName[] = ["--dir", "--ca", "--allow-insecure-http", "--timeout"];

/** Flags read from the command line for one command: every value of each flag, and the positional arguments. */
export class Flags {
  readonly positionals: string[] = [];
  private readonly values = new Map<FlagName, string[]>();

  /** @throws {UsageError} for a flag the command does not take, or a value missing or given to a switch */
  constructor(argv: readonly string[], allowed: readonly FlagName[]) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (!arg.startsWith("-") || arg === "-") {
        this.positionals.push(arg);
        continue;
      }
      const eq = arg.indexOf("=");
      const flag = (eq > 0 ? arg.slice(0, eq) : arg) as FlagName;
      if (!allowed.includes(flag)) throw new UsageError(`unknown option ${flag}`);
      const spec: FlagSpec = FLAGS[flag];
      let value = "";
      if (spec.value === undefined) {
        if (eq > 0) throw new UsageError(`option ${flag} takes no value`);
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

  has(flag: FlagName): boolean {
    return this.values.has(flag);
  }

  all(flag: FlagName): string[] {
    return this.values.get(flag) ?? [];
  }

  /** @throws {UsageError} when a flag that does not repeat was given twice */
  single(flag: FlagName): string | undefined {
    const given = this.values.get(flag);
    if (given && given.length > 1) throw new UsageError(`option ${flag} was given more than once`);
    return given?.[0];
  }

  /** @throws {UsageError} when the flag is missing or empty */
  required(flag: FlagName): string {
    const value = this.single(flag);
    const spec: FlagSpec = FLAGS[flag];
    if (value === undefined || value === "") throw new UsageError(`missing ${flag} ${spec.value ?? ""}`.trimEnd());
    return value;
  }

  /** @throws {UsageError} for any positional argument */
  noPositionals(): void {
    if (this.positionals.length > 0) throw new UsageError(`unexpected argument "${this.positionals[0]}"`);
  }
}

/** The help lines of some flags, aligned; `helpFor` gives a command's own words for a flag it uses differently. */
export function describeFlags(flags: readonly FlagName[], helpFor: Partial<Record<FlagName, string>> = {}): string {
  const rows = flags.map((flag) => {
    const spec: FlagSpec = FLAGS[flag];
    const name = flag === "--help" ? "-h, --help" : flag;
    return [`${name}${spec.value ? ` ${spec.value}` : ""}`, `${helpFor[flag] ?? spec.help}${spec.repeats ? " (repeatable)" : ""}`] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join("\n");
}
