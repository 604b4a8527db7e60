/**
 * The DNS server: {@link respondToQuery} on a Bun UDP socket and a Bun TCP listener on the same port.
 * This is the only file of `src/dns` that touches `Bun.*`.
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.2
 */
import { respondToQuery, type AuthoritativeZone } from "./authority.ts";

/** Where and what to serve. */
export interface DnsServerOptions {
  readonly hostname: string;
  readonly port: number;
  readonly zone: AuthoritativeZone;
}

/** A running DNS server. */
export interface DnsServer {
  readonly hostname: string;
  readonly port: number;
  /** Closes both listeners. */
  stop(): void;
}

/** Longest TCP message we accept, plus its 2-byte length prefix. */
const MAX_TCP_MESSAGE = 0xffff + 2;
/** Seconds an idle TCP connection is kept. @see https://www.rfc-editor.org/rfc/rfc7766#section-6.2.3 */
const TCP_IDLE_SECONDS = 10;

interface TcpState {
  buffer: Uint8Array;
}

/**
 * Starts an authoritative DNS server on UDP and TCP. Every datagram is answered independently;
 * a message that cannot be decoded gets FORMERR (or is dropped when no ID can be read), and no
 * input can stop the server.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7766 (DNS over TCP)
 * @throws {Error} with code `EADDRINUSE` when the port is taken
 */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const { hostname, port, zone } = options;
  const udp = await Bun.udpSocket({
    hostname,
    port,
    socket: {
      data(socket, data, remotePort, remoteAddress) {
        const response = safeRespond(data, zone, "udp");
        if (response) socket.send(response, remotePort, remoteAddress);
      },
    },
  });
  let tcp: Bun.TCPSocketListener<TcpState>;
  try {
    tcp = Bun.listen<TcpState>({
      hostname,
      port: udp.port,
      data: { buffer: new Uint8Array() },
      socket: {
        open(socket) {
          socket.data = { buffer: new Uint8Array() };
          socket.timeout(TCP_IDLE_SECONDS);
        },
        data(socket, chunk) {
          let buffer = concat(socket.data.buffer, chunk);
          while (buffer.length >= 2) {
            const length = (buffer[0]! << 8) | buffer[1]!;
            if (buffer.length < length + 2) break;
            const response = safeRespond(buffer.subarray(2, 2 + length), zone, "tcp");
            if (response) socket.write(concat(Uint8Array.of(response.length >> 8, response.length & 0xff), response));
            buffer = buffer.slice(2 + length);
          }
          if (buffer.length > MAX_TCP_MESSAGE) socket.end();
          socket.data.buffer = buffer;
        },
        timeout(socket) {
          socket.end();
        },
        error() {},
      },
    });
  } catch (error) {
    udp.close();
    throw error;
  }
  return {
    hostname,
    port: udp.port,
    stop() {
      udp.close();
      tcp.stop(true);
    },
  };
}

function safeRespond(data: Uint8Array, zone: AuthoritativeZone, transport: "udp" | "tcp"): Uint8Array | undefined {
  try {
    return respondToQuery(new Uint8Array(data), zone, transport);
  } catch {
    // A bug in answering one message must not take the server down; the client times out and retries.
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return new Uint8Array(b);
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
