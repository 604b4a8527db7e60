/**
 * `bun-acme serve` stopped by SIGTERM or SIGINT while its start waits on a CA that accepts
 * connections and never answers (a CA down behind a load balancer): it exits then, not when the
 * CA's requests give up, and a signal sent during the start is not lost once the start ends.
 */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startClient, type ClientProcess } from "../support/client.ts";
import { configHead, DAEMON_EXECUTABLE } from "../support/daemon.ts";
import { makeTlsMaterial } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(30_000);

let ca: { stop: () => void } | undefined;
let daemon: ClientProcess | undefined;
afterEach(() => {
  daemon?.kill("SIGKILL");
  ca?.stop();
});

/** A "CA" that accepts connections and never answers; resolves `met` at the first one. */
function silentCa() {
  const met = Promise.withResolvers<void>();
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => met.resolve(), data() {} } });
  ca = { stop: () => listener.stop(true) };
  return { url: `https://127.0.0.1:${listener.port}/dir`, met: met.promise };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  test(`${signal} while the start waits on a CA that never answers: the daemon exits then`, async () => {
    const silent = silentCa();
    const dir = makeTempDir("bun-acme-serve-stop-");
    const roots = await makeTlsMaterial();
    const file = join(dir, "serve.toml");
    writeFileSync(file, configHead({ directoryUrl: silent.url, caFile: roots.rootFile, store: join(dir, "store") }) + `[[site]]\nnames = ["stop.serve.test"]\nupstream = "http://127.0.0.1:9"\n`);
    daemon = startClient(["serve", "--config", file], { executable: DAEMON_EXECUTABLE });
    await silent.met; // the start is now waiting on the CA
    daemon.kill(signal);
    // Within the test's time limit (30 s): before the fix it ran on (the signal was missed while starting).
    expect(await daemon.exited).toBe(0);
  });
}
