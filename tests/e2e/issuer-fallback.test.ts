/**
 * Issuer fallback with two real CAs: manage() with [Pebble, step-ca], both issuing 20-second
 * certificates. The first certificate comes from Pebble; Pebble is stopped, and the renewal comes
 * from step-ca (stored with step-ca's directory URL, the event naming it, served with step-ca's
 * chain); Pebble is started again, and the next renewal comes from Pebble, as every renewal
 * starts at the first CA. step-ca validates http-01 on port 80, so Pebble is set to it too.
 * Then the daemon (`serve --json`) with a first CA nobody answers and Pebble as its [[issuer]]:
 * its JSON lines name the CA that failed and the one that issued.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import { manage, type Managed, type ManageEvent } from "../../src/manage/index.ts";
import { FileCertificateStore } from "../../src/store/index.ts";
import { eventLines } from "../support/events.ts";
import { configHead, startDaemonProcess } from "../support/daemon.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { startStepCa, type StepCa } from "../support/step-ca.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(150_000);
useLoopbackResolver();

const PEBBLE_CONFIG = { config: { certificateValidityPeriod: 20, httpPort: 80 } };

/** The issuer's common name of the certificate presented for `servername`. */
function presentedIssuer(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => {
      resolve(new X509Certificate(socket.getPeerCertificate(true).raw).issuer);
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("manage() with [Pebble, step-ca]", () => {
  let pebble: Pebble | undefined;
  let stepCa: StepCa | undefined;
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
    await Promise.allSettled([pebble?.stop(), stepCa?.stop()]);
  });

  test("Pebble stopped: the renewal comes from step-ca, stored and named as such; Pebble back: the next renewal comes from Pebble", async () => {
    pebble = await startPebble(PEBBLE_CONFIG);
    stepCa = await startStepCa({ certDuration: "20s" });
    const pebbleUrl = pebble.directoryUrl;
    const stepCaUrl = stepCa.directoryUrl;
    const events: ManageEvent[] = [];
    // A renewal that fails (instead of falling back) fails the test at once.
    const waiters: { resolve: (event: ManageEvent) => void; reject: (error: Error) => void }[] = [];
    const nextRenewal = () => new Promise<ManageEvent>((resolve, reject) => waiters.push({ resolve, reject }));
    const store = new FileCertificateStore(makeTempDir("bun-acme-fallback-"));
    managed = await manage({
      certificates: [["fallback.test"]],
      directoryUrl: pebbleUrl,
      ca: pebble.tlsRootPem,
      issuers: [{ directoryUrl: stepCaUrl, ca: stepCa.rootPem }],
      store,
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 80 },
      fetch: () => new Response("hello\n"),
      retry: { baseDelayMs: 500, maxDelayMs: 2_000 },
      onEvent: (event) => {
        events.push(event);
        if (event.type === "renewed") for (const waiter of waiters.splice(0)) waiter.resolve(event);
        if (event.type === "failed") for (const waiter of waiters.splice(0)) waiter.reject(new Error(`renewal failed: ${event.error}`));
      },
    });
    const obtained = events.find((event) => event.type === "obtained");
    expect(obtained?.ca).toBe(pebbleUrl);
    expect((await store.load("fallback.test"))!.meta.directoryUrl).toBe(pebbleUrl);
    expect(await presentedIssuer(managed.port, "fallback.test")).toContain("Pebble");

    const fromStepCa = nextRenewal();
    await pebble.stop();
    pebble = undefined;
    const renewed = await fromStepCa;
    expect(renewed.ca).toBe(stepCaUrl);
    expect((await store.load("fallback.test"))!.meta.directoryUrl).toBe(stepCaUrl);
    expect(await presentedIssuer(managed.port, "fallback.test")).toContain("bun-acme test step-ca intermediate");
    expect(events.some((event) => event.type === "warning" && event.ca === pebbleUrl)).toBe(true);

    const fromPebble = nextRenewal();
    pebble = await startPebble(PEBBLE_CONFIG);
    const back = await fromPebble;
    expect(back.ca).toBe(pebbleUrl);
    expect((await store.load("fallback.test"))!.meta.directoryUrl).toBe(pebbleUrl);
    expect(await presentedIssuer(managed.port, "fallback.test")).toContain("Pebble");
  });
});

describe("bun-acme serve --json with [[issuer]]", () => {
  let pebble: Pebble | undefined;
  afterAll(async () => {
    await pebble?.stop();
  });

  test("a first CA that nobody answers: the certificate comes from the [[issuer]], and the JSON lines name both CAs", async () => {
    pebble = await startPebble();
    const unreachable = "https://127.0.0.1:14999/dir"; // nothing listens there: connections are refused
    const daemon = await startDaemonProcess({
      json: true,
      servingTimeoutMs: 60_000,
      config: (dir) => configHead({ directoryUrl: unreachable, caFile: pebble!.tlsRootFile, store: join(dir, "store") }) +
        `[[issuer]]\ndirectory = "${pebble!.directoryUrl}"\nca = "${pebble!.tlsRootFile}"\n` +
        `[[site]]\nnames = ["daemon.fallback.test"]\nupstream = "http://127.0.0.1:1"\n`,
    });
    try {
      const events = eventLines(daemon.stdout.text());
      expect(events.find((event) => event.type === "obtained")).toMatchObject({ lineage: "daemon.fallback.test", ca: pebble.directoryUrl });
      expect(events.find((event) => event.type === "warning")).toMatchObject({ lineage: "daemon.fallback.test", ca: unreachable });
    } finally {
      await daemon.stop();
    }
  });
});
