/**
 * One instance of a fleet for the shared-store tests: manage() on a Redis or PostgreSQL store (by
 * the URL's scheme), printing every event as a JSON line and "serving" once it serves; SIGTERM
 * stops it. A failure to start is one line on stderr and exit 1.
 *
 *   bun tests/support/fleet-instance.ts STORE_URL DIRECTORY_URL CA_FILE HTTP_PORT HTTPS_PORT NAME...
 *
 * Environment: FLEET_LEASE_MS (the store's lock lease), FLEET_CACHE (a local cache folder),
 * FLEET_RETRY_MS (the first retry delay), FLEET_STALL=1 (a solver that announces "presented" and
 * then never completes: an instance to kill in the middle of an issuance, holding the lock),
 * FLEET_TLS_ALPN_PORT (answer tls-alpn-01 on this port instead of http-01), FLEET_CHECK_MS (how often every
 * certificate is compared with the store's).
 */
import type { ChallengeSolver } from "../../src/acme/index.ts";
import { manage } from "../../src/manage/index.ts";
import { openStore } from "../../src/store/index.ts";

const [storeUrl, directoryUrl, caFile, httpPort, httpsPort, ...names] = process.argv.slice(2);
const env = process.env;
const store = openStore(storeUrl!, env.FLEET_LEASE_MS ? { leaseMs: Number(env.FLEET_LEASE_MS) } : {});
const stall: ChallengeSolver = {
  type: "http-01",
  present: async () => {
    console.log("presented");
    await new Promise(() => {});
  },
  cleanup: async () => {},
};
try {
  const managed = await manage({
    certificates: names.map((name) => [name]),
    directoryUrl: directoryUrl!,
    ca: await Bun.file(caFile!).text(),
    store,
    ...(env.FLEET_STALL ? { challenge: stall } : env.FLEET_TLS_ALPN_PORT ? { challenge: "tls-alpn-01" as const } : {}),
    ...(env.FLEET_CACHE ? { cache: env.FLEET_CACHE } : {}),
    ...(env.FLEET_CHECK_MS ? { checkIntervalMs: Number(env.FLEET_CHECK_MS) } : {}),
    ...(env.FLEET_RETRY_MS ? { retry: { baseDelayMs: Number(env.FLEET_RETRY_MS), maxDelayMs: Number(env.FLEET_RETRY_MS) } } : {}),
    hostname: "127.0.0.1",
    ports: { http: Number(httpPort), https: Number(httpsPort), ...(env.FLEET_TLS_ALPN_PORT ? { tlsAlpn: Number(env.FLEET_TLS_ALPN_PORT) } : {}) },
    fetch: () => new Response(`instance ${httpsPort}\n`),
    onEvent: (event) => console.log(JSON.stringify(event)),
  });
  console.log("serving");
  process.on("SIGTERM", () => {
    managed.stop().then(() => {
      Promise.resolve(store.close?.()).finally(() => process.exit(0));
    });
  });
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
