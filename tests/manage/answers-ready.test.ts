/**
 * manage() waits for a shared store to hear the fleet's challenge answers before its first order,
 * but only so long: a subscription that never comes up (a FAKE `SharedChallenges` whose `ready()`
 * never resolves, on the memory store: Redis' client itself gives up after 1.6 s or 5 s, so only a
 * fake can hold it forever) must not keep a warm start from serving its stored certificate.
 * Fake clock, FAKE CA (the certificate obtained before), a recording server (no socket).
 */
import { describe, expect, test } from "bun:test";
import { ensureLineage } from "../../src/lifecycle/index.ts";
import { manage } from "../../src/manage/index.ts";
import type { CertificateServer } from "../../src/manage/index.ts";
import type { ServedCertificate } from "../../src/servers/index.ts";
import type { CertificateStore } from "../../src/store/index.ts";
import { configFor, engineWorld, FAKE_DIRECTORY, nothingToPresent } from "../support/engine.ts";

/** A FAKE CertificateServer: records what manage() serves. */
class RecordingServer implements CertificateServer {
  readonly port = 0;
  readonly served: (readonly ServedCertificate[])[] = [];
  async serve(certificates: readonly ServedCertificate[]): Promise<void> {
    this.served.push(certificates);
  }
  async stop(): Promise<void> {}
}

describe("manage() on a shared store whose answers subscription does not come up", () => {
  test("a warm start goes on after 1 s of the clock without it, and serves the stored certificate", async () => {
    const world = engineWorld();
    const name = "warm.fake.test";
    const stored = (await ensureLineage(world.store, configFor(name), world.issuer())).lineage!;
    let readyAsked = 0;
    const deafStore = new Proxy(world.store, {
      get: (target, key) => key === "sharedChallenges"
        ? () => ({ ...target.sharedChallenges(), ready: () => (readyAsked++, new Promise<void>(() => {})) })
        : Reflect.get(target, key, target),
    }) as CertificateStore;
    const server = new RecordingServer();
    let started = false;
    const managing = manage({ certificates: [[name]], directoryUrl: FAKE_DIRECTORY, store: deafStore, server, challenge: nothingToPresent, clock: world.clock })
      .then((managed) => ((started = true), managed));
    const turns = async () => {
      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));
    };
    await turns();
    expect(readyAsked).toBe(1);
    expect(started).toBe(false); // waiting for the subscription: the clock stands still
    world.clock.advance(999);
    await turns();
    expect(started).toBe(false);
    world.clock.advance(1);
    const end = Date.now() + 3_000;
    while (!started && Date.now() < end) await turns();
    expect(started).toBe(true);
    expect(server.served.at(-1)?.map((certificate) => certificate.chainPem)).toEqual([stored.chainPem]);
    expect(world.orders()).toBe(1); // the one before: nothing ordered
    await (await managing).stop();
  });
});
