/**
 * A `Bun.Server` as a handler behind a loopback hop should see it: `requestIP()` answers the
 * client's address, found by the hop's own port on loopback, instead of the hop's.
 */

/** The client behind a loopback connection, by that connection's local port. */
export type ClientLookup = (loopbackPort: number) => { readonly address: string; readonly port: number } | undefined;

/** `server` with `requestIP()` mapped through `lookup`; everything else is the server's own. */
export function withClientAddresses<Data>(server: Bun.Server<Data>, lookup: ClientLookup): Bun.Server<Data> {
  const requestIP = (request: Request) => {
    const seen = server.requestIP(request);
    const client = seen ? lookup(seen.port) : undefined;
    return client ? { address: client.address, port: client.port, family: client.address.includes(":") ? "IPv6" as const : "IPv4" as const } : seen;
  };
  return new Proxy(server, {
    get: (target, property) => {
      if (property === "requestIP") return requestIP;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
