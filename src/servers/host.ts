/**
 * The Host of a request, checked before it chooses a site or goes into a redirect: a DNS name
 * (ASCII letters, digits, `-`, `_`), an IPv4 address or a bracketed IPv6 address, and an optional
 * port 1–65535. Userinfo (`a@b`), paths (`host/x`), non-ASCII and markup are refused.
 */
import { formatIp, tryParseIp } from "../encoding/index.ts";

/** A Host header, checked: `name` lowercase without a trailing dot (IPv6 in brackets). */
export interface RequestHost {
  readonly name: string;
  readonly port?: number;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * Parses a Host header value (or an HTTP/2 `:authority`).
 *
 * @returns `undefined` when it is not a host name or address with an optional port
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.2
 */
export function parseRequestHost(value: string | null | undefined): RequestHost | undefined {
  if (!value) return undefined;
  const bracket = value.startsWith("[") ? value.indexOf("]") : -1;
  const colon = bracket >= 0 ? (value[bracket + 1] === ":" ? bracket + 1 : -1) : value.indexOf(":");
  if (bracket < 0 && value.startsWith("[")) return undefined;
  const hostPart = colon >= 0 ? value.slice(0, colon) : value;
  const portPart = colon >= 0 ? value.slice(colon + 1) : undefined;
  if (bracket >= 0 && hostPart.length !== bracket + 1) return undefined; // "[::1]x"
  let port: number | undefined;
  if (portPart !== undefined) {
    if (!/^\d{1,5}$/.test(portPart)) return undefined;
    port = Number(portPart);
    if (port < 1 || port > 65535) return undefined;
  }
  const name = bracket >= 0 ? ipv6Name(hostPart.slice(1, -1)) : dnsName(hostPart);
  if (name === undefined) return undefined;
  return port === undefined ? { name } : { name, port };
}

function ipv6Name(text: string): string | undefined {
  if (!text.includes(":")) return undefined;
  const bytes = tryParseIp(text);
  return bytes ? `[${formatIp(bytes)}]` : undefined;
}

function dnsName(text: string): string | undefined {
  const name = text.toLowerCase().replace(/\.$/, "");
  if (name.length === 0 || name.length > 253) return undefined;
  return name.split(".").every((label) => LABEL.test(label)) ? name : undefined;
}

/**
 * Whether a site name covers a host name: the same name, or a wildcard `*.example.net` for a
 * name one label below it (`a.example.net`, not `a.b.example.net` nor `example.net`); `*` alone
 * covers every name.
 */
export function hostNameMatches(pattern: string, name: string): boolean {
  const lower = pattern.toLowerCase();
  if (lower === "*") return true; // a catch-all site (the daemon's on-demand site without names)
  if (!lower.startsWith("*.")) return lower === name;
  const suffix = lower.slice(1);
  return name.endsWith(suffix) && name.length > suffix.length && !name.slice(0, -suffix.length).includes(".");
}
