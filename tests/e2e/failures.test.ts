/**
 * Failures end to end against a real Pebble: one clear line with the CA's words, a non-zero exit,
 * and no certificate or key written.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runClient } from "../support/client.ts";
import { eventLines } from "../support/events.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";
import { busyPorts, ETH_TCP_PORTS, ETH_UDP_PORTS } from "../support/ports.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

let pebble: Pebble;
beforeAll(async () => {
  pebble = await startPebble({ config: { domainBlocklist: ["blocked.test"] } });
});
afterAll(async () => {
  await pebble?.stop();
});

function args(out: string, record: string, domains: string[]): string[] {
  return ["http01", "--dir", pebble.directoryUrl, "--record", record, ...domains.flatMap((d) => ["--domain", d]), "--ca", pebble.tlsRootFile,
    "--bind", "127.0.0.1", "--out", out];
}

describe("failures", () => {
  test("a challenge the CA cannot reach: names the identifier, the challenge and the CA's problem; nothing written, old files kept", async () => {
    const out = makeTempDir("bun-acme-out-");
    writeFileSync(join(out, "cert.pem"), "previous good certificate");
    // --record 127.0.0.2: Pebble connects there, where nothing listens (the servers bind 127.0.0.1).
    const result = await runClient(args(out, "127.0.0.2", ["unreachable.example.test"]));
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("dns unreachable.example.test");
    expect(lines[0]).toContain("http-01");
    expect(lines[0]).toMatch(/connection: .*127\.0\.0\.2/);
    expect(readFileSync(join(out, "cert.pem"), "utf8")).toBe("previous good certificate");
    expect(existsSync(join(out, "key.pem"))).toBe(false);
    expect(await busyPorts(ETH_TCP_PORTS, ETH_UDP_PORTS)).toEqual([]);
  });

  test("an identifier the CA refuses: rejectedIdentifier with the CA's detail", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await runClient(args(out, "127.0.0.1", ["blocked.test"]));
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toContain("rejectedIdentifier");
    expect(result.stderr).toContain("forbidden by policy");
    expect(existsSync(join(out, "cert.pem"))).toBe(false);
  });

  test("certonly --json for an identifier the CA refuses: one failed event, the CA's problem document whole, exit 1, nothing saved", async () => {
    const state = makeTempDir("bun-acme-store-");
    const result = await runClient(["certonly", "--dir", pebble.directoryUrl, "--ca", pebble.tlsRootFile, "--domain", "blocked.test", "--bind", "127.0.0.1",
      "--http-port", "5002", "--state", state, "--json"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("");
    const events = eventLines(result.stdout);
    expect(events).toHaveLength(1);
    const [failed] = events;
    if (failed?.type !== "failed") throw new Error(`expected a failed event, got ${result.stdout}`);
    expect(failed).toMatchObject({ lineage: "blocked.test", names: ["blocked.test"], ca: pebble.directoryUrl, code: "ERR_ACME_PROBLEM" });
    expect(failed.error).toContain("rejectedIdentifier");
    expect(failed.problem).toMatchObject({ type: "urn:ietf:params:acme:error:rejectedIdentifier", status: 400 });
    expect(failed.problem!.detail).toContain("forbidden by policy");
    expect(existsSync(join(state, "certificates", "blocked.test"))).toBe(false);
  });

  test("a port already in use is named, with exit code 2", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 5002, socket: { data() {} } });
    try {
      const out = makeTempDir("bun-acme-out-");
      const result = await runClient(args(out, "127.0.0.1", ["busy.example.test"]));
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toMatch(/^bun-acme: error: Cannot start the http-01 challenge server on 127\.0\.0\.1:5002: the port is already in use/);
    } finally {
      blocker.stop(true);
    }
  });

  test("a DNS port already in use is named, with exit code 2", async () => {
    const blocker = await Bun.udpSocket({ hostname: "127.0.0.1", port: 10053 });
    try {
      const out = makeTempDir("bun-acme-out-");
      const result = await runClient(args(out, "127.0.0.1", ["busy.example.test"]));
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toMatch(/^bun-acme: error: Cannot start the DNS server on 127\.0\.0\.1:10053: the port is already in use/);
    } finally {
      blocker.close();
    }
  });

  test("an unreadable key file is named with its flag, exit code 2", async () => {
    const out = makeTempDir("bun-acme-out-");
    const result = await runClient([...args(out, "127.0.0.1", ["keyfile.example.test"]), "--cert-key", "/nonexistent/key.pem"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe("bun-acme: error: cannot read --cert-key /nonexistent/key.pem: ENOENT (see --help)");
  });

  test("a usage error exits 2 with one line and no stack trace", async () => {
    const result = await runClient(["http01", "--dir", pebble.directoryUrl, "--record", "localhost", "--domain", "a.test"]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('bun-acme: error: --record "localhost" is not an IPv4 address like 127.0.0.1 (see --help)');
  });
});
