/**
 * The challenge responders, started from one call: the solver for a challenge type together with
 * the server the CA validates it against.
 */
import type { ChallengeSolver, ChallengeType } from "../acme/index.ts";
import { ACME_TLS_ALPN_PROTOCOL, Dns01Solver, Http01Solver, TlsAlpn01Solver } from "../challenges/index.ts";
import { startDnsServer } from "../dns/index.ts";
import { serve, ServerStartError, type RunningServer } from "./serve.ts";
import { startTlsAlpnServer } from "./tls-alpn.ts";

/** What to start. */
export interface ResponderOptions {
  /** The challenge type the CA will validate. */
  readonly challenge: ChallengeType;
  /** The address every responder listens on, e.g. `0.0.0.0` or `127.0.0.1`. */
  readonly bind: string;
  /**
   * Ports: `http` for http-01 (CAs validate on 80), `tls` for tls-alpn-01 (443), `dns` for the
   * authoritative DNS server (53). Defaults are those a CA validates on.
   */
  readonly ports?: { readonly http?: number; readonly tls?: number; readonly dns?: number };
  /**
   * An IPv4 address the DNS server answers every A query with. With it, the DNS server runs for
   * any challenge type (the CA can then resolve the names to this machine); without it, only for dns-01.
   */
  readonly dnsAddress?: string;
}

/** Running responders: the solver to hand to `issueCertificate`, and how to stop them. */
export interface Responders {
  readonly solver: ChallengeSolver;
  /** Every server started, in order. */
  readonly servers: readonly RunningServer[];
  /** Stops every server; safe to call twice. */
  stop(): Promise<void>;
}

/** The ports CAs validate on (RFC 8555 §8.3, RFC 8737 §3, RFC 1035). */
export const VALIDATION_PORTS = { http: 80, tls: 443, dns: 53 } as const;

/**
 * Starts what the CA needs to validate `challenge`: an HTTP server answering
 * `/.well-known/acme-challenge/` (http-01), a TLS server negotiating `acme-tls/1` (tls-alpn-01),
 * or an authoritative DNS server serving the TXT records (dns-01). When one cannot start, those
 * already started are stopped before the error is thrown.
 *
 * @example
 * const responders = await startResponders({ challenge: "http-01", bind: "0.0.0.0" });
 * try {
 *   await issueCertificate({ transport, account, identifiers, csr, solver: responders.solver });
 * } finally {
 *   await responders.stop();
 * }
 * @throws {ServerStartError} naming the server and address when a port cannot be bound
 */
export async function startResponders(options: ResponderOptions): Promise<Responders> {
  const ports = { ...VALIDATION_PORTS, ...options.ports };
  const { bind } = options;
  const servers: RunningServer[] = [];
  const stop = async () => {
    const running = servers.splice(0);
    await Promise.allSettled(running.map((server) => server.stop()));
  };
  try {
    const dnsSolver = new Dns01Solver();
    let solver: ChallengeSolver = dnsSolver;
    if (options.challenge === "dns-01" || options.dnsAddress !== undefined) {
      servers.push(await startDns(bind, ports.dns, options.dnsAddress, dnsSolver));
    }
    if (options.challenge === "http-01") {
      const httpSolver = new Http01Solver();
      servers.push(serve({ name: "http-01 challenge server", hostname: bind, port: ports.http, handler: (request) => httpSolver.handle(request) }));
      solver = httpSolver;
    }
    if (options.challenge === "tls-alpn-01") {
      const tlsSolver = new TlsAlpn01Solver();
      servers.push(await startTlsAlpnServer({
        hostname: bind,
        port: ports.tls,
        protocol: ACME_TLS_ALPN_PROTOCOL,
        certificateFor: (serverName) => tlsSolver.certificateFor(serverName),
      }));
      solver = tlsSolver;
    }
    return { solver, servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startDns(bind: string, port: number, address: string | undefined, solver: Dns01Solver): Promise<RunningServer> {
  try {
    const server = await startDnsServer({ hostname: bind, port, zone: { address, txtValues: (name) => solver.txtValues(name) } });
    return { name: "DNS server", hostname: bind, port, stop: async () => server.stop() };
  } catch (error) {
    throw new ServerStartError("DNS server", bind, port, error);
  }
}
