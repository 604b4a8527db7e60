/**
 * certonly with dns-01 (the built-in DNS server, a wildcard) and tls-alpn-01 against a real
 * Pebble, and renew reusing what the lineage saved (ports, record, challenge); manage() with a
 * dns-01 solver.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { manage, type ManageEvent } from "../../src/manage/index.ts";
import { startResponders } from "../../src/servers/index.ts";
import { FileCertificateStore } from "../../src/store/index.ts";
import { eventLines } from "../support/events.ts";
import { runClient } from "../support/client.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { useLoopbackResolver } from "../support/resolver.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

let pebble: Pebble;
beforeAll(async () => {
  pebble = await startPebble();
});
afterAll(async () => {
  await pebble?.stop();
});

const sans = (file: string) => (new X509Certificate(readFileSync(file, "utf8")).subjectAltName ?? "").split(", ").map((name) => name.replace(/^DNS:/, "")).sort();

describe("certonly dns01", () => {
  test("a wildcard and its base name through the built-in DNS server on Pebble's resolver port; renew --force reuses it", async () => {
    const state = makeTempDir("bun-acme-dns-store-");
    const args = ["certonly", "dns01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "*.dns.certonly.test", "--domain", "dns.certonly.test",
      "--dns-port", "10053", "--bind", "127.0.0.1", "--state", state];
    const result = await runClient(args);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const folder = join(state, "certificates", "dns.certonly.test");
    expect(sans(join(folder, "cert.pem"))).toEqual(["*.dns.certonly.test", "dns.certonly.test"]);
    expect(JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8"))).toMatchObject({ version: 2, solver: { type: "dns-01", via: "responder", port: 10053 } });
    const renewed = await runClient(["renew", "--state", state, "--force"]);
    expect(renewed.stderr).toBe("");
    expect(renewed.stdout).toContain("dns.certonly.test: renewed (serial ");
  });
});

describe("manage() with a dns-01 solver", () => {
  test("a wildcard certificate through the built-in DNS server's solver, served by SNI", async () => {
    const responders = await startResponders({ challenge: "dns-01", bind: "127.0.0.1", ports: { dns: 10053 } });
    const events: ManageEvent[] = [];
    const storeDir = makeTempDir("bun-acme-manage-dns-");
    const managed = await manage({
      certificates: [["*.managed-dns.test", "managed-dns.test"]],
      directoryUrl: pebble.directoryUrl,
      ca: pebble.tlsRootPem,
      challenge: responders.solver,
      store: new FileCertificateStore(storeDir),
      hostname: "127.0.0.1",
      ports: { https: 5001 },
      fetch: () => new Response("wildcard\n"),
      onEvent: (event) => events.push(event),
    });
    try {
      expect(events.find((event) => event.type === "obtained")).toMatchObject({ lineage: "managed-dns.test", names: ["*.managed-dns.test", "managed-dns.test"] });
      const issuingRoot = await (await pebble.management("/roots/0")).text();
      const response = await fetch(`https://127.0.0.1:${managed.port}/`, { tls: { ca: issuingRoot, serverName: "anything.managed-dns.test" } });
      expect(await response.text()).toBe("wildcard\n");
      // The lineage records the program's solver as external: no ports or hooks made up for it.
      const saved = JSON.parse(readFileSync(join(storeDir, "certificates", "managed-dns.test", "lineage.json"), "utf8"));
      expect(saved).toEqual({
        version: 2, name: "managed-dns.test", identifiers: [{ type: "dns", value: "*.managed-dns.test" }, { type: "dns", value: "managed-dns.test" }],
        directoryUrl: pebble.directoryUrl, allowInsecureHttp: false, keyType: "ec256", solver: { type: "dns-01", via: "external" },
      });
    } finally {
      await managed.stop();
      await responders.stop();
    }
  });
});

describe("certonly tls01", () => {
  useLoopbackResolver();

  test("tls-alpn-01 on Pebble's TLS port, --json reports the obtained event", async () => {
    const state = makeTempDir("bun-acme-tls-store-");
    const result = await runClient(["certonly", "tls01", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "alpn.certonly.test",
      "--https-port", "5001", "--bind", "127.0.0.1", "--state", state, "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const folder = join(state, "certificates", "alpn.certonly.test");
    const meta = JSON.parse(readFileSync(join(folder, "metadata.json"), "utf8")) as { serial: string; notAfter: string; nextRenewal: string };
    expect(eventLines(result.stdout)).toEqual([{
      type: "obtained", time: expect.any(String), lineage: "alpn.certonly.test", names: ["alpn.certonly.test"], ca: pebble.directoryUrl,
      serial: meta.serial, notAfter: meta.notAfter, nextRenewal: meta.nextRenewal, folder,
    }]);
    expect(sans(join(state, "certificates", "alpn.certonly.test", "cert.pem"))).toEqual(["alpn.certonly.test"]);
  });
});
