/**
 * A misbehaving or slow CA, end to end through the command line against real Pebbles.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { requestShutdown, runClient, SERVING_LINE, startClient } from "../support/client.ts";
import { makeTlsMaterial, startPebble, type Pebble } from "../support/pebble.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

let pebble: Pebble | undefined;
afterEach(async () => {
  await pebble?.stop();
  pebble = undefined;
});

function args(directoryUrl: string, caFile: string, domains: string[], extra: string[] = []): string[] {
  const out = makeTempDir("bun-acme-out-");
  return ["http01", "--dir", directoryUrl, "--record", "127.0.0.1", ...domains.flatMap((d) => ["--domain", d]), "--ca", caFile,
    "--bind", "127.0.0.1", "--out", out, ...extra];
}

async function issueOnce(client: ReturnType<typeof startClient>): Promise<number> {
  try {
    await client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 60_000).catch((error) => {
      throw new Error(`${(error as Error).message}\n${client.stdout.text()}${client.stderr.text()}`);
    });
    await requestShutdown();
    return await client.exited;
  } finally {
    client.kill();
  }
}

describe("a misbehaving CA", () => {
  test("with half of all nonces rejected (PEBBLE_WFE_NONCEREJECT=50), ten issuances in a row succeed", async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: "50" } });
    for (let i = 0; i < 10; i++) {
      expect(await issueOnce(startClient(args(pebble.directoryUrl, pebble.tlsRootFile, [`storm${i}.example.test`])))).toBe(0);
    }
    // The storm really happened: more account POSTs than accounts (each rejection is retried).
    const accountPosts = pebble.log().match(/POST \/sign-me-up/g)?.length ?? 0;
    expect(accountPosts).toBeGreaterThan(10);
  }, 120_000);

  test("with Pebble's default validation delays, two names are still issued", async () => {
    pebble = await startPebble({ env: { PEBBLE_VA_NOSLEEP: "" } });
    expect(pebble.log().includes("Disabling random VA sleeps")).toBe(false);
    expect(await issueOnce(startClient(args(pebble.directoryUrl, pebble.tlsRootFile, ["slow1.example.test", "slow2.example.test"])))).toBe(0);
  }, 60_000);

  test("a CA that accepts connections and never answers: --timeout ends the run with one line and exit 1", async () => {
    const { certFile } = await makeTlsMaterial();
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const started = performance.now();
      const result = await runClient(args(`https://127.0.0.1:${silent.port}/dir`, certFile, ["silent.example.test"], ["--timeout", "1"]));
      expect(result.code).toBe(1);
      expect(result.stderr.trim()).toBe("bun-acme: error: Gave up waiting for the certificate (--timeout) after 1 s");
      expect(performance.now() - started).toBeLessThan(15_000); // bounded: far below the 30 s request timeout
    } finally {
      silent.stop(true);
    }
  });
});

describe("cancellation", () => {
  test("SIGINT while authorizations are pending deactivates them, then exits 130", async () => {
    // Pebble's default validation delay keeps the authorizations pending for seconds.
    pebble = await startPebble({ env: { PEBBLE_VA_NOSLEEP: "" } });
    const client = startClient(args(pebble.directoryUrl, pebble.tlsRootFile, ["cancel1.example.test", "cancel2.example.test"]));
    try {
      await client.stdout.waitFor((line) => line.startsWith("Order "), 30_000);
      client.kill("SIGINT");
      expect(await client.exited).toBe(130);
      await client.stdout.done;
      expect(client.stdout.text().match(/^Authorization \S+ deactivated$/gm)?.length ?? 0).toBeGreaterThanOrEqual(1);
      expect(client.stderr.text().trim()).toBe("bun-acme: error: Stopped by SIGINT");
    } finally {
      client.kill();
    }
  });
});
