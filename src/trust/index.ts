/**
 * Trust roots for reaching a CA whose TLS certificate the system does not trust (a company's CA,
 * Pebble): read and checked once, handed to the transport as PEM.
 * @module
 */
export { readTrustRoots, TrustRootsError } from "./read-trust-roots.ts";
