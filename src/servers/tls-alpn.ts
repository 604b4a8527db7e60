/**
 * The tls-alpn-01 responder, on `node:tls`: `Bun.serve` cannot negotiate ALPN.
 * @see https://www.rfc-editor.org/rfc/rfc8737#section-3
 */
import { ServerStartError, type RunningServer } from "./serve.ts";

/** A certificate and its key, PEM. */
type PemPair = { readonly certificatePem: string; readonly privateKeyPem: string };

/** Where to listen and which certificate to show for a server name. */
export interface TlsAlpnServerOptions {
  readonly hostname: string;
  readonly port: number;
  /** The protocol to negotiate: `acme-tls/1`. */
  readonly protocol: string;
  /** The certificate for a server name; a promise when it has to be looked up (a fleet's shared store). */
  certificateFor(serverName: string): PemPair | undefined | Promise<PemPair | undefined>;
}

/**
 * Starts a TLS server that negotiates only the given ALPN protocol and presents, per SNI, the
 * validation certificate; connections are closed right after the handshake, which is all a
 * tls-alpn-01 validation needs.
 *
 * @throws {ServerStartError} when the address cannot be bound
 */
export async function startTlsAlpnServer(options: TlsAlpnServerOptions): Promise<RunningServer> {
  const name = "tls-alpn-01 responder";
  // node:tls loaded when first used: it adds about 8 MiB to every process that imports it.
  const { createSecureContext, createServer } = process.getBuiltinModule("node:tls");
  const server = createServer({
    ALPNProtocols: [options.protocol],
    SNICallback(serverName, callback) {
      Promise.resolve(options.certificateFor(serverName)).then((certificate) => {
        if (!certificate) return callback(new Error(`no tls-alpn-01 certificate for ${serverName}`));
        callback(null, createSecureContext({ cert: certificate.certificatePem, key: certificate.privateKeyPem }));
      }, (error: Error) => callback(error));
    },
  }, (socket) => socket.end());
  server.on("tlsClientError", () => {}); // a failed handshake concerns only that client
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(new ServerStartError(name, options.hostname, options.port, error)));
    server.listen(options.port, options.hostname, () => resolve());
  });
  const address = server.address();
  return {
    name,
    hostname: options.hostname,
    port: typeof address === "object" && address ? address.port : options.port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
