/**
 * tls-alpn-01 on the public HTTPS port itself: `Bun.serve` cannot negotiate ALPN, and a `node:tls`
 * server chooses its certificate by SNI before it sees the ALPN offer, so neither can tell the
 * CA's validation from a browser. This listener reads each connection's ClientHello first: one
 * that offers `acme-tls/1` goes to the validation responder, every other one to the HTTPS server
 * on loopback, bytes untouched (one loopback hop, as TcpRelay costs).
 * @see https://www.rfc-editor.org/rfc/rfc8737#section-3
 */
import { clientHelloAlpn } from "./client-hello.ts";
import { ServerStartError, type RunningServer } from "./serve.ts";
import { TcpRelay, type RelayTarget } from "./tcp-relay.ts";
import { startTlsAlpnServer, type TlsAlpnServerOptions } from "./tls-alpn.ts";

/** The public address, the protocol (`acme-tls/1`) and the validation certificates. */
export type AlpnRouterOptions = TlsAlpnServerOptions;

/** The public listener of an HTTPS server that also answers tls-alpn-01 (see the module). */
export class AlpnRouter {
  private readonly options: AlpnRouterOptions;
  private relay: TcpRelay | undefined;
  private responder: RunningServer | undefined;

  constructor(options: AlpnRouterOptions) {
    this.options = options;
  }

  /** The public port (useful with port 0). */
  get port(): number {
    return this.relay?.port ?? this.options.port;
  }

  /**
   * Starts the validation responder on loopback and listens on the public address, relaying what
   * is not a validation to `httpsPort` on loopback.
   *
   * @throws {ServerStartError} when an address cannot be bound
   */
  async listen(httpsPort: number): Promise<void> {
    const responder = await startTlsAlpnServer({ ...this.options, hostname: "127.0.0.1", port: 0 });
    const validation: RelayTarget = { port: responder.port, connections: 0 };
    const protocol = this.options.protocol;
    const relay = new TcpRelay({
      router: (bytes) => {
        const hello = clientHelloAlpn(bytes);
        if (hello.kind === "incomplete") return "incomplete";
        return hello.kind === "alpn" && hello.protocols.includes(protocol) ? validation : undefined;
      },
    });
    relay.target = { port: httpsPort, connections: 0 };
    try {
      relay.listen({ hostname: this.options.hostname, port: this.options.port });
    } catch (error) {
      await responder.stop();
      throw new ServerStartError("HTTPS server", this.options.hostname, this.options.port, error);
    }
    this.relay = relay;
    this.responder = responder;
  }

  /** The client behind a connection the HTTPS server sees coming from this listener (by its port on loopback). */
  clientAddress(loopbackPort: number): { address: string; port: number } | undefined {
    return this.relay?.clientAddress(loopbackPort);
  }

  /** Stops accepting; relayed connections go on until {@link stop}. */
  stopListening(): void {
    this.relay?.stopListening();
  }

  /** Stops listening and closes what it relays (call after the HTTPS server has drained). */
  async stop(): Promise<void> {
    this.relay?.stopListening();
    this.relay?.closeAll();
    await this.responder?.stop();
    this.relay = undefined;
    this.responder = undefined;
  }
}
