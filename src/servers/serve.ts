/**
 * The HTTP(S) servers on `Bun.serve`: the only place in `src/servers` that touches `Bun.*`.
 */
import { BunAcmeError } from "../errors/index.ts";

/** A running server. */
export interface RunningServer {
  readonly name: string;
  readonly hostname: string;
  readonly port: number;
  /** Closes the listener and every open connection. */
  stop(): Promise<void>;
}

/** Where and what to serve. */
export interface ServeOptions {
  /** What the server is, for messages: "http-01 challenge server". */
  readonly name: string;
  readonly hostname: string;
  readonly port: number;
  readonly handler: (request: Request) => Response | Promise<Response>;
  /** PEM chain (leaf first) and PEM private key, for HTTPS. */
  readonly tls?: { readonly certificate: string; readonly privateKey: string };
}

/** The error thrown when a server cannot start, naming the server and the address. */
export class ServerStartError extends BunAcmeError {
  /** `ERR_SERVER_START`, or the system's code for why: `EADDRINUSE`, `EACCES`, ... */
  declare readonly code: string;
  /** Which server could not start, as the message names it: `"HTTPS server"`, `"admin server"`... */
  readonly server: string;
  constructor(name: string, hostname: string, port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    const reason = code === "EADDRINUSE"
      ? "the port is already in use"
      : code === "EACCES"
      ? "permission denied"
      : (cause as Error)?.message ?? String(cause);
    super(typeof code === "string" ? code : "ERR_SERVER_START", `Cannot start the ${name} on ${hostname}:${port}: ${reason}`, { cause });
    this.name = "ServerStartError";
    this.server = name;
  }
}

// Challenge and shutdown requests are bodiless; refuse anything large outright.
const MAX_REQUEST_BODY = 16 * 1024;

/**
 * Starts an HTTP or HTTPS server.
 *
 * @throws {ServerStartError} when the address cannot be bound
 */
export function serve(options: ServeOptions): RunningServer {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: options.hostname,
      port: options.port,
      maxRequestBodySize: MAX_REQUEST_BODY,
      fetch: options.handler,
      error: () => new Response("Internal Server Error\n", { status: 500 }),
      ...(options.tls ? { tls: { cert: options.tls.certificate, key: options.tls.privateKey } } : {}),
    });
  } catch (error) {
    throw new ServerStartError(options.name, options.hostname, options.port, error);
  }
  return {
    name: options.name,
    hostname: options.hostname,
    port: server.port ?? options.port,
    stop: () => server.stop(true),
  };
}

/**
 * Holds a TCP port (a listener that closes every connection at once) until the server meant for
 * it starts: e.g. the certificate HTTPS server, which can only start once the certificate exists,
 * but whose port must be known free before the CA is asked for anything.
 *
 * @throws {ServerStartError} when the address cannot be bound
 */
export function reservePort(name: string, hostname: string, port: number): RunningServer {
  let listener: Bun.TCPSocketListener<undefined>;
  try {
    listener = Bun.listen({ hostname, port, socket: { open: (socket) => void socket.end(), data() {} } });
  } catch (error) {
    throw new ServerStartError(name, hostname, port, error);
  }
  return { name, hostname, port: listener.port, stop: async () => listener.stop(true) };
}
