/**
 * A name server for Pebble's validation lookups when the client under test runs none (certonly
 * with http-01 or tls-alpn-01): every A query answers 127.0.0.1. It is the project's own DNS
 * server, started in the test process.
 */
import { afterAll, beforeAll } from "bun:test";
import { startDnsServer, type DnsServer } from "../../src/dns/index.ts";

/** Runs the resolver on 127.0.0.1:`port` for the enclosing describe block. */
export function useLoopbackResolver(port = 10053): void {
  let server: DnsServer | undefined;
  beforeAll(async () => {
    server = await startDnsServer({ hostname: "127.0.0.1", port, zone: { address: "127.0.0.1", txtValues: () => [] } });
  });
  afterAll(() => server?.stop());
}
