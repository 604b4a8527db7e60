/**
 * One instance of a fleet for the shared-store tests: manage() on a Redis or PostgreSQL store (by
 * the URL's scheme), printing every event as a JSON line and "serving" once it serves; SIGTERM
 * stops it.
 *
 *   bun tests/support/fleet-instance.ts STORE_URL DIRECTORY_URL CA_FILE HTTP_PORT HTTPS_PORT NAME...
 */
import { manage } from "../../src/manage/index.ts";
import { PostgresCertificateStore, RedisCertificateStore } from "../../src/store/index.ts";

const [storeUrl, directoryUrl, caFile, httpPort, httpsPort, ...names] = process.argv.slice(2);
const store = storeUrl!.startsWith("postgres") ? new PostgresCertificateStore(storeUrl!) : new RedisCertificateStore(storeUrl!);
const managed = await manage({
  certificates: names.map((name) => [name]),
  directoryUrl: directoryUrl!,
  ca: await Bun.file(caFile!).text(),
  store,
  hostname: "127.0.0.1",
  ports: { http: Number(httpPort), https: Number(httpsPort) },
  fetch: () => new Response(`instance ${httpsPort}\n`),
  onEvent: (event) => console.log(JSON.stringify({ type: event.type, lineage: event.lineage, serial: event.serial, message: event.message })),
});
console.log("serving");
process.on("SIGTERM", () => {
  managed.stop().then(() => {
    Promise.resolve(store.close()).finally(() => process.exit(0));
  });
});
