/**
 * IP address text ⇄ bytes, for DNS records, certificate SANs and ACME IP identifiers (RFC 8738).
 */

/**
 * Parses dotted-quad IPv4 text into 4 bytes.
 *
 * @throws {SyntaxError} for anything but four decimal octets 0-255
 */
export function parseIPv4(address: string): Uint8Array {
  const parts = address.split(".");
  if (parts.length !== 4 || parts.some((part) => !/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255)) {
    throw new SyntaxError(`Cannot parse IPv4 address "${address}"`);
  }
  return Uint8Array.from(parts.map(Number));
}

/**
 * Parses IPv6 text (with `::` and an optional dotted IPv4 tail) into 16 bytes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4291#section-2.2
 * @throws {SyntaxError} for text that is not an IPv6 address
 */
export function parseIPv6(address: string): Uint8Array {
  const fail = () => new SyntaxError(`Cannot parse IPv6 address "${address}"`);
  let text = address;
  const ipv4Tail = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  let tailBytes: Uint8Array | undefined;
  if (ipv4Tail) {
    tailBytes = parseIPv4(ipv4Tail[1]!);
    text = text.slice(0, text.length - ipv4Tail[1]!.length) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) throw fail();
  const groupsOf = (part: string): number[] =>
    part === "" ? [] : part.split(":").map((group) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) throw fail();
      return parseInt(group, 16);
    });
  const head = groupsOf(halves[0]!);
  const rest = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw fail();
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  groups.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  if (tailBytes) bytes.set(tailBytes, 12);
  return bytes;
}

/**
 * Formats 16 bytes as canonical IPv6 text: lowercase, longest run of two or more zero groups as `::`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5952#section-4
 */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * Formats 4 or 16 address bytes as text (dotted quad, or RFC 5952 IPv6).
 *
 * @throws {RangeError} for another length
 */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length === 16) return formatIPv6(bytes);
  throw new RangeError(`Cannot format an IP address of ${bytes.length} bytes`);
}

/**
 * Parses IPv4 or IPv6 text into 4 or 16 bytes, or returns `undefined` when the text is neither.
 */
export function tryParseIp(text: string): Uint8Array | undefined {
  try {
    return text.includes(":") ? parseIPv6(text) : parseIPv4(text);
  } catch {
    return undefined;
  }
}
