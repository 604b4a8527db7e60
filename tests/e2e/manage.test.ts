/**
 * manage() against a real Pebble issuing 20-second certificates: it obtains two certificates,
 * serves them by SNI (a name with none gets a placeholder that fails verification), and renews them in the background while 8 keep-alive clients keep
 * requesting over HTTPS, verified against Pebble's root. Across three renewals: no failed
 * request, and the served serial changes each time.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import type { EventOf } from "../../src/lifecycle/index.ts";
import { manage, type Managed, type ManageEvent } from "../../src/manage/index.ts";
import { FileCertificateStore } from "../../src/store/index.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(150_000);

let pebble: Pebble;
let issuingRoot: string;
beforeAll(async () => {
  pebble = await startPebble({ config: { certificateValidityPeriod: 20 } });
  issuingRoot = await (await pebble.management("/roots/0")).text();
});
afterAll(async () => {
  await pebble?.stop();
});
useLoopbackResolver();

/** The serial (hex) and subject of the certificate presented for `servername` (none: no SNI). */
function presented(port: number, servername?: string): Promise<{ serial: string; subject: string; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: issuingRoot, ...(servername ? { servername } : {}), rejectUnauthorized: false }, () => {
      const certificate = socket.getPeerCertificate();
      resolve({ serial: certificate.serialNumber, subject: String(certificate.subject?.CN ?? ""), authorized: socket.authorized, ...(socket.authorizationError ? { error: String(socket.authorizationError) } : {}) });
      socket.end();
    });
    socket.on("error", reject);
  });
}

describe("manage()", () => {
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
  });

  test("three renewals under keep-alive load: zero failed requests, a new serial served each time; SNI picks per name", async () => {
    const events: ManageEvent[] = [];
    const renewed = new Map<string, number>();
    const thirdRenewal = Promise.withResolvers<void>();
    managed = await manage({
      certificates: [["manage.test", "www.manage.test"], ["other.manage.test"]],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      store: new FileCertificateStore(makeTempDir("bun-acme-manage-")),
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 5002 },
      fetch: () => new Response("hello from a managed server\n"),
      retry: { baseDelayMs: 500, maxDelayMs: 4_000 },
      onEvent: (event) => {
        events.push(event);
        if (event.type !== "renewed") return;
        renewed.set(event.lineage!, (renewed.get(event.lineage!) ?? 0) + 1);
        if ((renewed.get("manage.test") ?? 0) >= 3) thirdRenewal.resolve();
      },
    });
    expect(events.filter((event) => event.type === "obtained").map((event) => event.lineage).sort()).toEqual(["manage.test", "other.manage.test"]);

    // SNI: each name its own certificate; a name without one gets the placeholder, which fails verification.
    expect(await presented(managed.port, "www.manage.test")).toMatchObject({ subject: "manage.test", authorized: true });
    expect(await presented(managed.port, "other.manage.test")).toMatchObject({ subject: "other.manage.test", authorized: true });
    const stranger = await presented(managed.port, "stranger.test");
    expect(stranger.subject).toBe("bun-acme: no certificate for this name");
    expect(stranger.authorized).toBe(false);

    // The load: 8 clients with keep-alive, every answer checked, until the third renewal of manage.test.
    let done = false;
    let ok = 0;
    const failures: string[] = [];
    const clients = Array.from({ length: 8 }, async () => {
      while (!done) {
        try {
          const response = await fetch(`https://127.0.0.1:${managed!.port}/`, { tls: { ca: issuingRoot, serverName: "manage.test" } });
          const body = await response.text();
          if (response.status === 200 && body === "hello from a managed server\n") ok++;
          else failures.push(`HTTP ${response.status}: ${body.slice(0, 60)}`);
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    });
    const serials = new Set<string>();
    const samplerErrors: string[] = [];
    let samples = 0;
    const sampler = (async () => {
      while (!done) {
        // A new connection every 200 ms: none may be reset at a swap (the relay's listener never closes), so every error counts.
        const seen = await presented(managed!.port, "manage.test").catch((error: Error) => void samplerErrors.push(error.message));
        if (seen) {
          serials.add(seen.serial);
          samples++;
        }
        await Bun.sleep(200);
      }
    })();
    await thirdRenewal.promise;
    await Bun.sleep(500); // keep the load on the server after the last swap
    done = true;
    await Promise.all([...clients, sampler]);

    expect(failures).toEqual([]);
    expect(samplerErrors).toEqual([]);
    expect(samples).toBeGreaterThan(20);
    expect(ok).toBeGreaterThan(1_000);
    // The initial certificate and three renewals, each seen on the wire.
    expect(serials.size).toBeGreaterThanOrEqual(4);
    const renewedSerials = events.filter((event): event is EventOf<"renewed"> => event.type === "renewed" && event.lineage === "manage.test").map((event) => event.serial!.replace(/^0+/, ""));
    for (const serial of renewedSerials) expect([...serials].map((seen) => seen.replace(/^0+/, ""))).toContain(serial);
    expect(events.some((event) => event.type === "next_renewal")).toBe(true);
  });
});

describe("manage() while the CA is down", () => {
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
  });

  test("keeps serving the current certificate (expired too), reports each failed attempt with the cause, and renews once the CA is back", async () => {
    const events: ManageEvent[] = [];
    const waiters: { match: (event: ManageEvent) => boolean; resolve: () => void }[] = [];
    const waitFor = (match: (event: ManageEvent) => boolean) => {
      const waiting = Promise.withResolvers<void>();
      if (events.some(match)) waiting.resolve();
      else waiters.push({ match, resolve: waiting.resolve });
      return waiting.promise;
    };
    managed = await manage({
      certificates: [["down.manage.test"]],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      store: new FileCertificateStore(makeTempDir("bun-acme-manage-down-")),
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 5002 },
      fetch: () => new Response("still here\n"),
      retry: { baseDelayMs: 500, maxDelayMs: 2_000 },
      onEvent: (event) => {
        events.push(event);
        for (const waiter of waiters.filter((candidate) => candidate.match(event))) waiter.resolve();
      },
    });
    const first = events.find((event) => event.type === "obtained")!;
    await pebble.stop();
    await waitFor((event) => event.type === "failed" && events.filter((other) => other.type === "failed").length >= 2);
    const failed = events.filter((event) => event.type === "failed");
    expect(failed[0]!.error).toStartWith("Cannot connect to https://127.0.0.1:14000/");
    expect(Date.parse(failed[1]!.at!)).toBeGreaterThan(Date.parse(failed[0]!.at!));
    expect((await presented(managed.port, "down.manage.test")).serial.replace(/^0+/, "")).toBe(first.serial!.replace(/^0+/, ""));
    // Down past the certificate's expiry: it is still served (clients decide), and an event says so.
    await waitFor((event) => event.type === "expired");
    expect(events.find((event) => event.type === "expired")!.message).toBe(
      `the certificate expired at ${first.notAfter} and is still served: no renewal has succeeded`,
    );
    const response = await fetch(`https://127.0.0.1:${managed.port}/`, { tls: { rejectUnauthorized: false, serverName: "down.manage.test" } });
    expect(await response.text()).toBe("still here\n");

    pebble = await startPebble({ config: { certificateValidityPeriod: 20 } }); // a new Pebble: new root, the account forgotten
    issuingRoot = await (await pebble.management("/roots/0")).text();
    await waitFor((event) => event.type === "renewed");
    const renewed = events.find((event) => event.type === "renewed")!;
    expect(renewed.serial).not.toBe(first.serial);
    expect((await presented(managed.port, "down.manage.test")).serial.replace(/^0+/, "")).toBe(renewed.serial!.replace(/^0+/, ""));
  });
});

describe("manage() started during a CA outage, with damaged lineages in its store", () => {
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
  });

  test("serves the stored site at once, the placeholder for a new one and for the damaged ones (reported by name), and obtains them once the CA answers", async () => {
    const dir = makeTempDir("bun-acme-manage-outage-");
    const common = { directoryUrl: pebble.directoryUrl, ca: pebble.tlsRootPem, store: new FileCertificateStore(dir), hostname: "127.0.0.1", ports: { https: 5001, http: 5002 }, fetch: () => new Response("up\n") };
    const before = await manage({ ...common, certificates: [["kept.outage.test"], ["victim.outage.test"], ["keyless.outage.test"]] });
    await before.stop();
    const kept = (await common.store.load("kept.outage.test"))!;
    // Another site's fullchain copied over the victim's: its key and chain no longer belong together.
    await Bun.write(join(dir, "certificates", "victim.outage.test", "fullchain.pem"), kept.chainPem);
    // And one whose key file was deleted (reading it threw ENOENT, and the whole start failed).
    rmSync(join(dir, "certificates", "keyless.outage.test", "privkey.pem"));
    await pebble.stop();

    const events: ManageEvent[] = [];
    const waiting = new Map<string, () => void>();
    const obtained = (lineage: string) => new Promise<void>((resolve) => {
      if (events.some((event) => event.type === "obtained" && event.lineage === lineage)) resolve();
      else waiting.set(lineage, resolve);
    });
    managed = await manage({
      ...common,
      certificates: [["kept.outage.test"], ["victim.outage.test"], ["keyless.outage.test"], ["new.outage.test"]],
      retry: { baseDelayMs: 300, maxDelayMs: 1_000 },
      onEvent: (event) => {
        events.push(event);
        if (event.type === "obtained") waiting.get(event.lineage!)?.();
      },
    });
    const placeholder = "bun-acme: no certificate for this name";
    // The first handshake on a port the previous manage() in this process just gave up (reusePort) may meet its
    // closing listener and be reset (net.ipv4.tcp_migrate_req=0); that is the swap problem, not this test's.
    await presented(managed.port, "kept.outage.test").catch((error: { code?: string }) => {
      if (error.code !== "ECONNRESET") throw error;
    });
    expect((await presented(managed.port, "kept.outage.test")).serial.replace(/^0+/, "")).toBe(kept.meta.serial.replace(/^0+/, ""));
    expect((await presented(managed.port, "new.outage.test")).subject).toBe(placeholder);
    expect((await presented(managed.port, "victim.outage.test")).subject).toBe(placeholder);
    expect((await presented(managed.port, "keyless.outage.test")).subject).toBe(placeholder);
    const damaged = events.filter((event) => event.type === "damaged");
    expect(damaged.map((event) => event.lineage).sort()).toEqual(["keyless.outage.test", "victim.outage.test"]);
    expect(damaged.find((event) => event.lineage === "victim.outage.test")!.message).toContain("another key than the lineage's private key");
    expect(damaged.find((event) => event.lineage === "keyless.outage.test")!.message).toContain("privkey.pem is missing");
    expect(events.filter((event) => event.type === "failed").map((event) => event.lineage)).toEqual(expect.arrayContaining(["new.outage.test", "victim.outage.test", "keyless.outage.test"]));

    pebble = await startPebble({ config: { certificateValidityPeriod: 20 } }); // a new Pebble: the account is registered again
    issuingRoot = await (await pebble.management("/roots/0")).text();
    await Promise.all([obtained("new.outage.test"), obtained("victim.outage.test"), obtained("keyless.outage.test")]);
    for (const name of ["new.outage.test", "victim.outage.test", "keyless.outage.test"]) {
      const served = await presented(managed.port, name);
      expect(served.authorized).toBe(true);
      expect(served.serial.replace(/^0+/, "")).toBe(events.find((event): event is EventOf<"obtained"> => event.type === "obtained" && event.lineage === name)!.serial!.replace(/^0+/, ""));
    }
    // The kept site is served throughout: its stored certificate, or (20-second certificates) its renewal.
    const keptSerials = [kept.meta.serial, ...events.filter((event): event is EventOf<"renewed"> => event.type === "renewed" && event.lineage === "kept.outage.test").map((event) => event.serial!)];
    expect(keptSerials.map((serial) => serial.replace(/^0+/, ""))).toContain((await presented(managed.port, "kept.outage.test")).serial.replace(/^0+/, ""));
  });
});

describe("manage() with on-demand certificates", () => {
  let managed: Managed | undefined;
  afterAll(async () => {
    await managed?.stop();
  });

  test("a name allow() accepts gets a certificate during its first handshake; others, denied ones and those past the rate limit fail the handshake", async () => {
    const events: ManageEvent[] = [];
    const asked: string[] = [];
    managed = await manage({
      certificates: [],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      store: new FileCertificateStore(makeTempDir("bun-acme-manage-ondemand-")),
      hostname: "127.0.0.1",
      ports: { https: 5001, http: 5002 },
      fetch: () => new Response("on demand\n"),
      onDemand: {
        allow: (name) => (asked.push(name), name.endsWith(".ondemand.test")),
        deny: ["*.blocked.ondemand.test"],
        maxPerMinute: 2,
      },
      onEvent: (event) => events.push(event),
    });
    const obtained = (name: string) => events.filter((event) => event.type === "obtained" && event.lineage === name).length;
    const refused = async (name: string) => presented(managed!.port, name).then(() => "served", (error: Error) => `refused: ${error.message}`);

    const first = await presented(managed.port, "a.ondemand.test");
    expect(first).toMatchObject({ subject: "a.ondemand.test", authorized: true });
    expect(obtained("a.ondemand.test")).toBe(1);
    expect((await presented(managed.port, "a.ondemand.test")).serial).toBe(first.serial); // the second handshake finds it
    const response = await fetch(`https://127.0.0.1:${managed.port}/`, { tls: { ca: issuingRoot, serverName: "a.ondemand.test" } });
    expect(await response.text()).toBe("on demand\n");

    expect(await refused("stranger.test")).toStartWith("refused: ");
    expect(await refused("x.blocked.ondemand.test")).toStartWith("refused: ");
    expect(asked).not.toContain("x.blocked.ondemand.test"); // denied before allow() is asked

    // Two handshakes at once for a new name: one issuance.
    const [b1, b2] = await Promise.all([presented(managed.port, "b.ondemand.test"), presented(managed.port, "b.ondemand.test")]);
    expect(b1.serial).toBe(b2.serial);
    expect(obtained("b.ondemand.test")).toBe(1);

    // maxPerMinute: 2 (a and b): the third name this minute is refused, and the event says why.
    expect(await refused("c.ondemand.test")).toStartWith("refused: ");
    expect(obtained("c.ondemand.test")).toBe(0);
    expect(events.find((event): event is EventOf<"warning"> => event.type === "warning" && event.lineage === "c.ondemand.test")?.message).toBe(
      "on demand: c.ondemand.test refused, 2 certificates already ordered on demand this minute",
    );
  });
});

describe("manage() with tls-alpn-01", () => {
  test("without ports.tlsAlpn it refuses to start, saying why and what to do; nothing is bound", async () => {
    const attempt = manage({
      certificates: [["alpn.manage.test"]], directoryUrl: "https://127.0.0.1:14000/dir", store: new FileCertificateStore(makeTempDir("bun-acme-alpn-")),
      challenge: "tls-alpn-01", hostname: "127.0.0.1", ports: { https: 7011 }, fetch: () => new Response("never"),
    });
    await expect(attempt).rejects.toThrow("tls-alpn-01 needs ports.tlsAlpn: Bun.serve cannot negotiate ALPN on the HTTPS port");
    const bound = await Bun.connect({ hostname: "127.0.0.1", port: 7011, socket: { data() {} } }).then((socket) => (socket.end(), true), () => false);
    expect(bound).toBe(false);
  });
});
