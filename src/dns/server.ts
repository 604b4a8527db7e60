/**
 * The DNS server: {@link respondToQuery} on a Bun UDP socket and a Bun TCP listener on the same port.
 * This file and the client (`client.ts`) are the only ones of `src/dns` that touch `Bun.*`.
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
  /**
   * Answers that could not be sent (e.g. UDP to a port that answered ICMP unreachable, as a
   * spoofed source does), counted and never printed: anyone who reaches the port could flood a log.
   */
  readonly sendErrors: number;
  /** Closes both listeners. */
  stop(): void;
}

/**
 * Most unanswered input kept per TCP connection: queries wait here while a client does not read
 * its answers (backpressure), and a client that keeps sending regardless is disconnected.
 */
const MAX_TCP_INPUT = 4 * (0xffff + 2);
/** Seconds an idle TCP connection is kept. @see https://www.rfc-editor.org/rfc/rfc7766#section-6.2.3 */
const TCP_IDLE_SECONDS = 10;

interface TcpState {
  /** Received bytes not answered yet. */
  input: Uint8Array;
  /** The rest of an answer the socket did not take; nothing more is answered until it is sent. */
  output: Uint8Array;
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
  // With port 0 the UDP socket picks a free port, which TCP may find taken: pick again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(options);
    } catch (error) {
      if (options.port !== 0 || (error as { code?: unknown }).code !== "EADDRINUSE" || attempt >= 5) throw error;
    }
  }
}

async function startOn(options: DnsServerOptions): Promise<DnsServer> {
  const { hostname, port, zone } = options;
  let sendErrors = 0;
  const udp = await Bun.udpSocket({
    hostname,
    port,
    socket: {
      data(socket, data, remotePort, remoteAddress) {
        const response = safeRespond(data, zone, "udp");
        if (!response) return;
        // An ICMP error from an earlier answer (a closed port, a spoofed source) is reported by
        // Linux on the next send, which then sends nothing: the error is consumed, so send once more.
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            if (socket.send(response, remotePort, remoteAddress)) return;
          } catch {
            // counted below
          }
          sendErrors++;
        }
      },
      // Called (in Bun 1.4.5 with the error as its only argument) for failed receives: counted, never printed.
      error() {
        sendErrors++;
      },
    },
  });
  let tcp: Bun.TCPSocketListener<TcpState>;
  try {
    tcp = Bun.listen<TcpState>({
      hostname,
      port: udp.port,
      data: { input: new Uint8Array(), output: new Uint8Array() },
      socket: {
        open(socket) {
          socket.data = { input: new Uint8Array(), output: new Uint8Array() };
          socket.timeout(TCP_IDLE_SECONDS);
        },
        data(socket, chunk) {
          socket.data.input = concat(socket.data.input, chunk);
          if (socket.data.input.length > MAX_TCP_INPUT) {
            socket.end();
            return;
          }
          answerTcp(socket, zone);
        },
        drain(socket) {
          answerTcp(socket, zone);
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
    get sendErrors() {
      return sendErrors;
    },
    stop() {
      udp.close();
      tcp.stop(true);
    },
  };
}

/**
 * Sends what is left of the last answer, then answers the complete queries received, one at a
 * time, for as long as the socket takes whole answers (`write` returns how much it took).
 * @see https://www.rfc-editor.org/rfc/rfc7766#section-6.2.1.1 (pipelined queries)
 */
function answerTcp(socket: Bun.Socket<TcpState>, zone: AuthoritativeZone): void {
  const state = socket.data;
  for (;;) {
    if (state.output.length > 0) {
      const written = socket.write(state.output);
      state.output = state.output.subarray(Math.max(written, 0));
      if (state.output.length > 0) return; // `drain` calls again
    }
    const input = state.input;
    if (input.length < 2) return;
    const length = (input[0]! << 8) | input[1]!;
    if (input.length < length + 2) return;
    const response = safeRespond(input.subarray(2, 2 + length), zone, "tcp");
    state.input = input.slice(2 + length);
    if (response) state.output = concat(Uint8Array.of(response.length >> 8, response.length & 0xff), response);
  }
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
