/**
 * Flag values shared by several commands, each read by one function that throws a
 * {@link UsageError} naming the flag.
 */
import { normalizeIdentifiers, parseRevocationReason, resolveDirectory, type ChallengeType, type Identifier, type ResolvedDirectory } from "../acme/index.ts";
import { parseIPv4, tryParseIp } from "../encoding/index.ts";
import type { KeyType } from "../jose/index.ts";
import { UsageError, withFlag } from "./errors.ts";
import type { Flags } from "./flags.ts";

/** External Account Binding credentials as given on the command line. */
export interface EabFlags {
  readonly kid: string;
  readonly hmacKey: string;
}

/**
 * `--dir`: a URL or a CA preset. When the command registers an account (`eab` is then passed,
 * `null` when not given), a preset that needs External Account Binding needs `--eab-kid` and
 * `--eab-hmac-key`: checked here, before any request.
 */
export function readDirectory(flags: Flags, eab?: EabFlags | null): string {
  const text = flags.required("--dir");
  const allowInsecureHttp = flags.has("--allow-insecure-http");
  const { directoryUrl, preset }: ResolvedDirectory = withFlag("--dir", () => resolveDirectory(text, { allowInsecureHttp }));
  if (preset?.externalAccountRequired && eab === null) {
    throw new UsageError(`--dir ${preset.name} needs External Account Binding: give --eab-kid and --eab-hmac-key (from ${preset.eabSource})`);
  }
  return directoryUrl;
}

/** `--eab-kid` and `--eab-hmac-key`: both or neither, the key base64url. */
export function readEab(flags: Flags): EabFlags | null {
  const kid = flags.single("--eab-kid");
  const hmacKey = flags.single("--eab-hmac-key");
  if ((kid === undefined) !== (hmacKey === undefined)) throw new UsageError("External Account Binding needs both --eab-kid and --eab-hmac-key");
  if (hmacKey !== undefined && !/^[A-Za-z0-9_-]+={0,2}$/.test(hmacKey)) {
    throw new UsageError("--eab-hmac-key is not base64url: give the MAC key exactly as the CA shows it");
  }
  return kid !== undefined && hmacKey !== undefined ? { kid, hmacKey } : null;
}

/** The names of `--domain` and `--ip`, as identifiers the challenge can prove. */
export function readIdentifiers(flags: Flags, challenge: ChallengeType): Identifier[] {
  for (const value of flags.all("--ip")) {
    if (!tryParseIp(value)) throw new UsageError(`--ip "${value}" is not an IPv4 or IPv6 address`);
  }
  return withFlag("--domain", () => normalizeIdentifiers([...flags.all("--domain"), ...flags.all("--ip")], { challenge }));
}

/** `--record`: an IPv4 address. */
export function readRecord(flags: Flags): string {
  const record = flags.required("--record");
  try {
    parseIPv4(record);
  } catch {
    throw new UsageError(`--record "${record}" is not an IPv4 address like 127.0.0.1`);
  }
  return record;
}

/** A key type among the allowed ones (default `ec256`). */
export function readKeyType(flags: Flags, flag: "--key-type" | "--account-key-type", allowed: readonly KeyType[]): KeyType {
  const value = flags.single(flag);
  if (value === undefined) return "ec256";
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flag} "${value}" is not one of ${allowed.join(", ")}`);
  return value as KeyType;
}

/** A port number (1-65535), or the fallback. */
export function readPort(flags: Flags, flag: "--dns-port" | "--http-port" | "--https-port" | "--shutdown-port", fallback: number): number {
  const value = flags.single(flag);
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`${flag} "${value}" is not a port number (1-65535)`);
  return port;
}

/** `--timeout`: seconds, default 300. */
export function readTimeout(flags: Flags): number {
  return readSeconds(flags, "--timeout", 300);
}

/** A number of seconds up to a day; `--lock-wait` may be 0 (do not wait). */
export function readSeconds(flags: Flags, flag: "--timeout" | "--lock-wait" | "--dns-propagation-timeout" | "--hook-timeout", fallback: number): number {
  const value = flags.single(flag);
  if (value === undefined) return fallback;
  const seconds = Number(value);
  const least = flag === "--timeout" || flag === "--hook-timeout" ? Number.MIN_VALUE : 0;
  if (!/^\d+(\.\d+)?$/.test(value) || seconds < least || seconds > 86_400) {
    throw new UsageError(`${flag} "${value}" is not a number of seconds between 0 and 86400`);
  }
  return seconds;
}

/** `--contact`: email addresses or mailto: URIs. */
export function readContacts(flags: Flags): string[] {
  return flags.all("--contact").map((value) => {
    if (/^mailto:[^@\s]+@[^@\s]+$/.test(value)) return value;
    if (/^[^@\s:]+@[^@\s]+$/.test(value)) return `mailto:${value}`;
    throw new UsageError(`--contact "${value}" is not an email address or mailto: URI`);
  });
}

/** A revocation reason by name or number. */
export function readReason(flags: Flags, flag: "--reason" | "--revoke-reason"): number | undefined {
  const value = flags.single(flag);
  if (value === undefined) return undefined;
  try {
    return parseRevocationReason(value);
  } catch (error) {
    throw new UsageError(`${flag} ${(error as Error).message}`);
  }
}
