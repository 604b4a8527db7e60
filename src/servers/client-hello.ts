/**
 * The ALPN protocols a TLS ClientHello offers, read from the first bytes of a connection before
 * any TLS library sees them: how one public port tells a tls-alpn-01 validation (`acme-tls/1`)
 * from a browser when the TLS server cannot choose its certificate by ALPN.
 * @see https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2 (ClientHello)
 * @see https://www.rfc-editor.org/rfc/rfc7301#section-3.1 (application_layer_protocol_negotiation)
 */

/** What the first bytes say: wait for more, not a ClientHello in one record, or the offered protocols (none: empty). */
export type ClientHelloAlpn = { readonly kind: "incomplete" } | { readonly kind: "unreadable" } | { readonly kind: "alpn"; readonly protocols: readonly string[] };

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const ALPN_EXTENSION = 16;
const INCOMPLETE = { kind: "incomplete" } as const;
const UNREADABLE = { kind: "unreadable" } as const;

/**
 * Reads the ALPN offer of the ClientHello at the start of `bytes` (its first TLS record). Every
 * length is checked against what is there: malformed input is `unreadable`, never an exception.
 */
export function clientHelloAlpn(bytes: Uint8Array): ClientHelloAlpn {
  if (bytes.length < 5) return INCOMPLETE;
  if (bytes[0] !== HANDSHAKE) return UNREADABLE;
  const recordLength = (bytes[3]! << 8) | bytes[4]!;
  if (bytes.length < 5 + recordLength) return INCOMPLETE;
  const record = bytes.subarray(5, 5 + recordLength);
  if (record.length < 4 || record[0] !== CLIENT_HELLO) return UNREADABLE;
  const helloLength = (record[1]! << 16) | (record[2]! << 8) | record[3]!;
  if (helloLength > record.length - 4) return UNREADABLE; // a ClientHello spread over several records: not one of the CA's
  const hello = record.subarray(4, 4 + helloLength);
  let offset = 2 + 32; // legacy_version, random
  const skip = (lengthBytes: 1 | 2): boolean => {
    if (offset + lengthBytes > hello.length) return false;
    const length = lengthBytes === 1 ? hello[offset]! : (hello[offset]! << 8) | hello[offset + 1]!;
    offset += lengthBytes + length;
    return offset <= hello.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return UNREADABLE; // session id, cipher suites, compression methods
  if (offset === hello.length) return { kind: "alpn", protocols: [] }; // no extensions at all
  if (offset + 2 > hello.length) return UNREADABLE;
  const end = offset + 2 + ((hello[offset]! << 8) | hello[offset + 1]!);
  if (end > hello.length) return UNREADABLE;
  offset += 2;
  while (offset + 4 <= end) {
    const type = (hello[offset]! << 8) | hello[offset + 1]!;
    const length = (hello[offset + 2]! << 8) | hello[offset + 3]!;
    const data = hello.subarray(offset + 4, offset + 4 + length);
    if (offset + 4 + length > end) return UNREADABLE;
    if (type === ALPN_EXTENSION) return protocolList(data);
    offset += 4 + length;
  }
  return offset === end ? { kind: "alpn", protocols: [] } : UNREADABLE;
}

/** ProtocolNameList: a 2-byte length, then names of 1 to 255 bytes, each after its 1-byte length. */
function protocolList(data: Uint8Array): ClientHelloAlpn {
  if (data.length < 2 || ((data[0]! << 8) | data[1]!) !== data.length - 2) return UNREADABLE;
  const protocols: string[] = [];
  for (let offset = 2; offset < data.length;) {
    const length = data[offset]!;
    if (length === 0 || offset + 1 + length > data.length) return UNREADABLE;
    protocols.push(new TextDecoder().decode(data.subarray(offset + 1, offset + 1 + length)));
    offset += 1 + length;
  }
  return { kind: "alpn", protocols };
}
