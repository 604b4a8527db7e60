/**
 * The file store and lineage files on their own: round trips, validation messages, names, and
 * the webroot solver's files.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WebrootSolver } from "../../src/challenges/index.ts";
import {
  checkLineageName,
  defaultLineageName,
  FileCertificateStore,
  parseLineageConfig,
  StoreError,
  type LineageConfig,
  type StoredLineage,
} from "../../src/store/index.ts";
import { makeTempDir } from "../support/temp.ts";

const CONFIG: LineageConfig = {
  version: 2, name: "example.test", identifiers: [{ type: "dns", value: "example.test" }, { type: "dns", value: "*.example.test" }],
  directoryUrl: "https://ca.test/dir", allowInsecureHttp: false, keyType: "ec256",
  solver: { type: "dns-01", via: "responder", bind: "0.0.0.0", port: 53 }, cli: { hooks: { deploy: "systemctl reload nginx" } },
};
const LINEAGE: StoredLineage = {
  config: CONFIG,
  meta: {
    version: 1, serial: "0A", notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-04-01T00:00:00.000Z", certificateUrl: "https://ca.test/cert/1",
    obtainedAt: "2026-01-01T00:00:01.000Z", nextRenewal: "2026-03-02T00:00:00.000Z", renewalSource: "lifetime",
  },
  keyPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
  chainPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n",
};

describe("FileCertificateStore", () => {
  test("saves a lineage in certbot's file names and reads it back whole; the key is 0600", async () => {
    const store = new FileCertificateStore(makeTempDir("bun-acme-store-unit-"));
    await store.save(LINEAGE);
    expect(await store.list()).toEqual(["example.test"]);
    expect(await store.load("example.test")).toEqual(LINEAGE);
    const folder = store.locate("example.test");
    expect(statSync(join(folder, "privkey.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(folder, "cert.pem"), "utf8")).toBe("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    expect(readFileSync(join(folder, "chain.pem"), "utf8")).toBe("-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n");
    expect(await store.summary("missing.test")).toBeUndefined();
  });

  test("a lineage.json with a wrong member is named, with the member", async () => {
    const store = new FileCertificateStore(makeTempDir("bun-acme-store-unit-"));
    await store.save(LINEAGE);
    const file = join(store.locate("example.test"), "lineage.json");
    writeFileSync(file, JSON.stringify({ ...CONFIG, solver: { ...CONFIG.solver, type: "smoke-signals" } }));
    const error = await store.summary("example.test").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).toBe(`${file}: "solver.type" should be one of http-01, dns-01, tls-alpn-01; the file was not overwritten: restore or remove it`);
  });

  test("a lineage from another version is refused, not misread", () => {
    expect(() => parseLineageConfig({ ...CONFIG, version: 3 }, "lineage.json")).toThrow('lineage.json: "version" should be 1 or 2 (this bun-acme reads versions 1 and 2)');
  });
});

describe("lineage names", () => {
  test("default: the first name, a wildcard's *. dropped", () => {
    expect(defaultLineageName([{ type: "dns", value: "*.example.test" }, { type: "dns", value: "example.test" }])).toBe("example.test");
    expect(defaultLineageName([{ type: "ip", value: "2001:db8::1" }])).toBe("2001:db8::1");
  });

  test.each(["../etc", "a/b", ".hidden", "", "a..b"])("%p is refused", (name) => {
    expect(() => checkLineageName(name)).toThrow(RangeError);
  });
});

describe("WebrootSolver", () => {
  const challenge = { type: "http-01" as const, url: "https://ca.test/chall/1", status: "pending" as const, token: "tok_en-1" };
  const identifier = { type: "dns" as const, value: "example.test" };

  test("writes the key authorization world-readable under .well-known/acme-challenge and removes it", () => {
    const root = makeTempDir("bun-acme-webroot-unit-");
    const solver = new WebrootSolver(root);
    solver.present(identifier, challenge, "tok_en-1.thumb");
    const file = join(root, ".well-known", "acme-challenge", "tok_en-1");
    expect(readFileSync(file, "utf8")).toBe("tok_en-1.thumb");
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(statSync(join(root, ".well-known", "acme-challenge")).mode & 0o755).toBe(0o755);
    solver.cleanup(identifier, challenge);
    expect(existsSync(file)).toBe(false);
  });

  test("a token that is not base64url (a path) is refused", () => {
    const solver = new WebrootSolver(makeTempDir("bun-acme-webroot-unit-"));
    expect(() => solver.present(identifier, { ...challenge, token: "../../etc/passwd" }, "x")).toThrow(RangeError);
  });
});
