/**
 * A DNS client for one server: UDP, falling back to TCP when the answer is truncated or the
 * message is too large for a datagram; optionally TSIG-signed, the answer's signature checked.
 * @see https://www.rfc-editor.org/rfc/rfc7766#section-5 (TCP fallback)
 */
import { BunAcmeError } from "../errors/index.ts";
import { decodePacket, encodePacket, type DnsPacket } from "./packet.ts";
import { signMessage, verifyAnswer, type TsigKey, type TsigVerdict } from "./tsig.ts";

/** Where to send, and how. */
export interface ExchangeOptions {
  readonly server: string;
  readonly port: number;
  /** For UDP (tried twice: a third, then two thirds of it) and again for TCP (default 3 000 ms). */
  readonly timeoutMs?: number;
  readonly tsig?: TsigKey;
  /** Use TCP from the start. */
  readonly tcp?: boolean;
}

/** An answer, with the verdict on its TSIG when the request was signed. */
export interface Exchanged {
  readonly packet: DnsPacket;
  readonly tsig: TsigVerdict | undefined;
}

/** The server did not answer, or answered something that is not DNS. */
export class DnsClientError extends BunAcmeError {
  declare readonly code: "ERR_DNS_CLIENT";
  readonly server: string;
  constructor(server: string, reason: string) {
    super("ERR_DNS_CLIENT", `The name server ${server} ${reason}`);
    this.name = "DnsClientError";
    this.server = server;
  }
}

/** Largest message sent over UDP (EDNS is not used for updates). */
const UDP_LIMIT = 512;

/**
 * Sends a message and returns the answer with the same ID.
 *
 * @throws {DnsClientError} when no answer comes in time, or the answer cannot be decoded
 */
export async function exchange(message: DnsPacket, options: ExchangeOptions): Promise<Exchanged> {
  const encoded = encodePacket(message);
  const signed = options.tsig ? await signMessage(encoded, options.tsig) : undefined;
  const bytes = signed?.bytes ?? encoded;
  const where = `${options.server}:${options.port}`;
  const timeoutMs = options.timeoutMs ?? 3_000;
  let answer: Uint8Array | undefined;
  if (!options.tcp && bytes.length <= UDP_LIMIT) {
    // Two tries, the first short: a datagram lost (seen with a BIND that just started) costs a third of the time.
    for (const share of [1 / 3, 2 / 3]) answer ??= await overUdp(bytes, options.server, options.port, timeoutMs * share);
    if (answer && (answer[2]! & 0x02) !== 0) answer = undefined; // truncated (TC): ask again over TCP
  }
  answer ??= await overTcp(bytes, options.server, options.port, timeoutMs, where);
  if (!answer) throw new DnsClientError(where, `did not answer within ${timeoutMs / 1000} s`);
  let packet: DnsPacket;
  try {
    packet = decodePacket(answer);
  } catch (error) {
    throw new DnsClientError(where, `sent a malformed answer (${(error as Error).message})`);
  }
  if (packet.header.id !== message.header.id) throw new DnsClientError(where, "answered another query");
  const tsig = options.tsig && signed ? await verifyAnswer(answer, options.tsig, signed.mac) : undefined;
  return { packet, tsig };
}

function overUdp(bytes: Uint8Array, server: string, port: number, timeoutMs: number): Promise<Uint8Array | undefined> {
  const id = (bytes[0]! << 8) | bytes[1]!;
  return new Promise((resolve) => {
    let socket: { close(): void } | undefined;
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (value: Uint8Array | undefined) => {
      clearTimeout(timer);
      socket?.close();
      resolve(value);
    };
    Bun.udpSocket({
      hostname: server.includes(":") ? "::" : "0.0.0.0",
      socket: {
        data(_socket, data) {
          const answer = new Uint8Array(data);
          if (answer.length >= 12 && ((answer[0]! << 8) | answer[1]!) === id) finish(answer);
        },
        error() {},
      },
    }).then((opened) => {
      socket = opened;
      try {
        opened.send(bytes, port, server);
      } catch {
        finish(undefined);
      }
    }, () => finish(undefined));
  });
}

function overTcp(bytes: Uint8Array, server: string, port: number, timeoutMs: number, where: string): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    let buffer = new Uint8Array(0);
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    Bun.connect({
      hostname: server,
      port,
      socket: {
        open(socket) {
          const framed = new Uint8Array(bytes.length + 2);
          framed[0] = bytes.length >> 8;
          framed[1] = bytes.length & 0xff;
          framed.set(bytes, 2);
          socket.write(framed);
        },
        data(socket, chunk) {
          const grown = new Uint8Array(buffer.length + chunk.length);
          grown.set(buffer);
          grown.set(chunk, buffer.length);
          buffer = grown;
          if (buffer.length >= 2 && buffer.length >= 2 + ((buffer[0]! << 8) | buffer[1]!)) {
            clearTimeout(timer);
            resolve(buffer.slice(2, 2 + ((buffer[0]! << 8) | buffer[1]!))); // before end(): it may call close() at once
            socket.end();
          }
        },
        close() {
          clearTimeout(timer);
          resolve(undefined);
        },
        error() {},
      },
    }).catch((error: unknown) => {
      clearTimeout(timer);
      reject(new DnsClientError(where, `cannot be reached (${(error as { code?: string }).code ?? (error as Error).message})`));
    });
  });
}
