/**
 * A listener that never closes for a certificate: it accepts TCP connections on the public port
 * and relays their bytes, TLS and all, to whichever loopback backend is current when they arrive.
 * Swapping a certificate starts a new backend and points the relay at it; connections already
 * relayed stay with the backend they shook hands with until they end.
 *
 * Why: closing a listener resets the connections still queued on it unless Linux's
 * `net.ipv4.tcp_migrate_req` is 1, and Bun 1.4.5 cannot change a listener's certificate
 * (`server.reload({ tls })` is ignored). What it costs is one loopback hop per connection.
 */
import type { Socket, TCPSocketListener } from "bun";

/** Where a relayed connection goes: a backend's loopback port, and a count of what it holds. */
export interface RelayTarget {
  readonly port: number;
  /** Connections relayed to this target and still open. */
  connections: number;
  /** Called when `connections` drops to 0. */
  onIdle?: () => void;
}

interface Pair {
  readonly client: Socket<Pair>;
  /** Undefined while a router waits for the connection's first bytes. */
  target?: RelayTarget;
  upstream?: Socket<Pair>;
  /** While a router waits for the first bytes: closes the connection if they do not come in time. */
  routing?: ReturnType<typeof setTimeout>;
  /** Bytes waiting for the upstream (not yet connected, or backpressure). */
  readonly toUpstream: Uint8Array[];
  /** Bytes waiting for the client (backpressure). */
  readonly toClient: Uint8Array[];
  /** The backend has finished: close once what is queued for the client is written. */
  upstreamDone: boolean;
  closed: boolean;
}

/**
 * Picks a connection's target from its first bytes (e.g. its TLS ClientHello): a target,
 * `"incomplete"` to wait for more bytes (up to 16 KiB), or undefined for the current target.
 */
export type RelayRouter = (firstBytes: Uint8Array) => RelayTarget | "incomplete" | undefined;

/** The most a router is given to decide; past it, the connection goes to the current target. */
const MAX_ROUTED_BYTES = 16_384;

/** Options of a {@link TcpRelay}. */
export interface TcpRelayOptions {
  readonly hostname: string;
  readonly port: number;
}

/**
 * Relays every TCP connection on `hostname:port` to the current {@link RelayTarget}, with
 * backpressure both ways, and remembers each relayed connection's client address so the backend
 * can report it (see {@link clientAddress}).
 */
export class TcpRelay {
  private listener: TCPSocketListener<Pair> | undefined;
  private readonly clients = new Map<number, { address: string; port: number }>();
  private readonly open = new Set<Pair>();
  /** Where new connections go. */
  target: RelayTarget | undefined;
  private readonly router: RelayRouter | undefined;
  private readonly routeTimeoutMs: number;

  /**
   * `router`: where each connection goes, from its first bytes (default: the current target, at
   * once); a connection that has not sent enough for it within `routeTimeoutMs` (default 10 s) is
   * closed, so that silent connections cannot pile up.
   */
  constructor(options: { readonly router?: RelayRouter; readonly routeTimeoutMs?: number } = {}) {
    this.router = options.router;
    this.routeTimeoutMs = options.routeTimeoutMs ?? 10_000;
  }

  /** The public port (useful with port 0). */
  get port(): number | undefined {
    return this.listener?.port;
  }

  /** Starts listening. @throws the bind error (`EADDRINUSE`, `EACCES`) as Bun raises it */
  listen(options: TcpRelayOptions): void {
    this.listener = Bun.listen<Pair>({
      hostname: options.hostname,
      port: options.port,
      socket: {
        open: (client) => this.accept(client),
        data: (client, chunk) => !client.data ? undefined : client.data.target ? this.forward(client.data.upstream, client.data.toUpstream, chunk, client) : this.route(client.data, chunk),
        drain: (client) => {
          this.flush(client, client.data.toClient, client.data.upstream);
          if (client.data.upstreamDone && client.data.toClient.length === 0) this.close(client.data);
        },
        // A connection turned away at accept (no target yet) has no pair.
        end: (client) => client.data && this.close(client.data),
        close: (client) => client.data && this.close(client.data),
        error: (client) => client.data && this.close(client.data),
      },
    });
  }

  /**
   * The client's address for a connection the backend sees coming from the relay (its peer port
   * on loopback), or undefined when the connection is not relayed.
   */
  clientAddress(relayPort: number): { address: string; port: number } | undefined {
    return this.clients.get(relayPort);
  }

  /** Stops accepting; relayed connections go on until `closeAll` or their end. */
  stopListening(): void {
    this.listener?.stop(false);
    this.listener = undefined;
  }

  /** Closes every relayed connection at once. */
  closeAll(): void {
    for (const pair of this.open) this.close(pair);
  }

  private accept(client: Socket<Pair>): void {
    if (!this.target) {
      client.end();
      return;
    }
    const pair: Pair = { client, toUpstream: [], toClient: [], upstreamDone: false, closed: false };
    client.data = pair;
    this.open.add(pair);
    if (!this.router) return this.connect(pair, this.target);
    pair.routing = setTimeout(() => this.close(pair), this.routeTimeoutMs);
    pair.routing.unref();
  }

  /** The first bytes of a routed connection: kept, and once the router decides, relayed to its choice. */
  private route(pair: Pair, chunk: Uint8Array): void {
    pair.toUpstream.push(chunk.slice());
    const bytes = pair.toUpstream.length === 1 ? pair.toUpstream[0]! : concat(pair.toUpstream);
    const choice = this.router!(bytes);
    if (choice === "incomplete" && bytes.byteLength < MAX_ROUTED_BYTES) return;
    const target = choice === "incomplete" || choice === undefined ? this.target : choice;
    clearTimeout(pair.routing);
    if (!target) return this.close(pair);
    pair.client.pause(); // until the target connects and takes what is queued
    this.connect(pair, target);
  }

  private connect(pair: Pair, target: RelayTarget): void {
    const client = pair.client;
    pair.target = target;
    target.connections++;
    Bun.connect<Pair>({
      hostname: "127.0.0.1",
      port: target.port,
      data: pair,
      socket: {
        open: (upstream) => {
          pair.upstream = upstream;
          if (pair.closed) return void upstream.end();
          this.clients.set(upstream.localPort, { address: client.remoteAddress, port: client.remotePort });
          this.flush(upstream, pair.toUpstream, client);
        },
        data: (upstream, chunk) => this.forward(client, pair.toClient, chunk, upstream),
        drain: (upstream) => this.flush(upstream, pair.toUpstream, client),
        end: () => this.upstreamFinished(pair),
        close: () => this.upstreamFinished(pair),
        error: () => this.close(pair),
        connectError: () => this.close(pair),
      },
    }).catch(() => this.close(pair));
  }

  /** Writes `chunk` to `to`, queueing what does not fit and pausing `from` until it drains. */
  private forward(to: Socket<Pair> | undefined, queue: Uint8Array[], chunk: Uint8Array, from: Socket<Pair>): void {
    if (!to || queue.length > 0) {
      queue.push(chunk.slice());
      from.pause();
      return;
    }
    const written = to.write(chunk);
    if (written < chunk.byteLength) {
      queue.push(chunk.slice(Math.max(written, 0)));
      from.pause();
    }
  }

  /** Writes what is queued for `to`, then lets `from` read again. */
  private flush(to: Socket<Pair>, queue: Uint8Array[], from: Socket<Pair> | undefined): void {
    while (queue.length > 0) {
      const chunk = queue[0]!;
      const written = to.write(chunk);
      if (written < chunk.byteLength) {
        queue[0] = chunk.subarray(Math.max(written, 0));
        return;
      }
      queue.shift();
    }
    from?.resume();
  }

  /** The backend closed: the client gets what is still queued for it, then the close. */
  private upstreamFinished(pair: Pair): void {
    pair.upstreamDone = true;
    if (pair.toClient.length === 0) this.close(pair);
  }

  private close(pair: Pair): void {
    if (pair.closed) return;
    pair.closed = true;
    clearTimeout(pair.routing);
    this.open.delete(pair);
    if (pair.upstream) this.clients.delete(pair.upstream.localPort);
    pair.client.end();
    pair.upstream?.end();
    if (!pair.target) return;
    pair.target.connections--;
    if (pair.target.connections === 0) pair.target.onIdle?.();
  }
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return all;
}
