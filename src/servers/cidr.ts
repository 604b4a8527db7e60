/**
 * Address ranges in CIDR notation (`10.0.0.0/8`, `::1/128`, a bare address for one host), for the
 * reverse proxy's trusted proxies. An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, as a
 * dual-stack listener reports IPv4 clients) matches the IPv4 ranges.
 */
import { tryParseIp } from "../encoding/index.ts";

interface Range {
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * Compiles a list of CIDR ranges into a membership test.
 *
 * @throws {RangeError} naming the first entry that is not an address or an address/prefix
 * @see https://www.rfc-editor.org/rfc/rfc4632#section-3.1
 */
export function cidrMatcher(ranges: readonly string[]): (address: string | undefined) => boolean {
  const parsed = ranges.map(parseRange);
  if (parsed.length === 0) return () => false;
  return (address) => {
    const bytes = address === undefined ? undefined : unmapped(tryParseIp(address));
    return bytes !== undefined && parsed.some((range) => contains(range, bytes));
  };
}

function parseRange(text: string): Range {
  const [address, prefixText, extra] = text.split("/");
  const bytes = unmapped(tryParseIp(address ?? ""));
  const bits = bytes ? bytes.length * 8 : 0;
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!bytes || extra !== undefined || !(prefix >= 0 && prefix <= bits)) {
    throw new RangeError(`Cannot read "${text}" as an address range: expected an IP address or CIDR, e.g. 10.0.0.0/8 or fd00::/8`);
  }
  return { bytes, prefix };
}

function contains(range: Range, bytes: Uint8Array): boolean {
  if (range.bytes.length !== bytes.length) return false;
  for (let bit = 0; bit < range.prefix; bit += 8) {
    const mask = range.prefix - bit >= 8 ? 0xff : (0xff << (8 - (range.prefix - bit))) & 0xff;
    if ((range.bytes[bit / 8]! & mask) !== (bytes[bit / 8]! & mask)) return false;
  }
  return true;
}

/** `::ffff:a.b.c.d` → the 4 IPv4 bytes; anything else unchanged. */
function unmapped(bytes: Uint8Array | undefined): Uint8Array | undefined {
  if (!bytes || bytes.length !== 16) return bytes;
  const mapped = bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}
