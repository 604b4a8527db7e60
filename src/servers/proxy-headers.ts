/**
 * The reverse proxy's header rules: what belongs to one connection and is never forwarded
 * (either way), and the forwarding headers that tell the upstream who the client was.
 */

/**
 * Connection-specific fields, removed in both directions, with every field the `Connection`
 * header names.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
const HOP_BY_HOP = [
  "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
  "proxy-authorization", "proxy-authenticate", "http2-settings",
];

/** Client-sent forwarding fields, dropped unless the connection comes from a trusted proxy. */
const FORWARDING = ["forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip"];

/**
 * A copy of `headers` without the hop-by-hop fields and those `Connection` names.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */
export function withoutHopByHop(headers: Headers): Headers {
  const copy = new Headers(headers);
  const named = (headers.get("connection") ?? "").split(",").map((token) => token.trim().toLowerCase()).filter(Boolean);
  for (const name of [...HOP_BY_HOP, ...named]) copy.delete(name);
  return copy;
}

/** Who sent the request, as the proxy saw it. */
export interface ForwardedFor {
  /** The peer's address (`undefined` when the server does not know it). */
  readonly client: string | undefined;
  readonly tls: boolean;
  /** The Host the client asked for, as it sent it (checked). */
  readonly host: string;
  /** The peer is a trusted proxy: its forwarding fields are kept and extended. */
  readonly trusted: boolean;
}

/**
 * Sets `X-Forwarded-For`/`-Proto`/`-Host` and `Forwarded` from the connection. From an untrusted
 * peer, every client-sent forwarding field (`X-Real-IP` and `X-Forwarded-Port` too) is dropped
 * first; from a trusted one, the peer is appended to its `X-Forwarded-For` and `Forwarded` lists
 * and its `X-Forwarded-Proto`/`-Host` are kept.
 * @see https://www.rfc-editor.org/rfc/rfc7239#section-4
 */
export function setForwardingHeaders(headers: Headers, from: ForwardedFor): void {
  if (!from.trusted) for (const name of FORWARDING) headers.delete(name);
  const proto = from.tls ? "https" : "http";
  const xff = [headers.get("x-forwarded-for"), from.client].filter(Boolean).join(", ");
  if (xff) headers.set("x-forwarded-for", xff);
  if (!headers.has("x-forwarded-proto")) headers.set("x-forwarded-proto", proto);
  if (!headers.has("x-forwarded-host")) headers.set("x-forwarded-host", from.host);
  const element = [from.client ? `for=${forwardedNode(from.client)}` : "for=unknown", `host=${quotedIfNeeded(from.host)}`, `proto=${proto}`].join(";");
  headers.set("forwarded", [headers.get("forwarded"), element].filter(Boolean).join(", "));
}

/** An address as a `Forwarded` node: IPv6 in brackets and quotes. @see https://www.rfc-editor.org/rfc/rfc7239#section-6 */
function forwardedNode(address: string): string {
  return address.includes(":") ? `"[${address}]"` : address;
}

function quotedIfNeeded(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, "\\$&")}"`;
}
