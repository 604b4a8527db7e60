/**
 * End to end against a real Pebble: the command line obtains, serves, revokes and shuts down.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { requestShutdown, runClient, SERVING_LINE, startClient } from "../support/client.ts";
import { makeTlsMaterial, startPebble, type Pebble } from "../support/pebble.ts";
import { busyPorts, ETH_TCP_PORTS, ETH_UDP_PORTS } from "../support/ports.ts";
import { opensslHandshake } from "../support/tls.ts";
import { makeTempDir } from "../support/temp.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

let pebble: Pebble;
let pebbleRoot: string;

beforeAll(async () => {
  pebble = await startPebble();
  pebbleRoot = await (await pebble.management("/roots/0")).text();
});
afterAll(async () => {
  await pebble?.stop();
});

function baseArgs(challenge: "http01" | "dns01", outDir: string, domains: string[]): string[] {
  return [challenge, "--dir", pebble.directoryUrl, "--record", "127.0.0.1", ...domains.flatMap((d) => ["--domain", d]),
    "--ca", pebble.tlsRootFile, "--bind", "127.0.0.1", "--out", outDir];
}

/** Runs the client until it serves, hands control to `check`, then shuts it down and returns its exit code. */
async function issueAndServe(args: string[], check: (stdout: string) => Promise<void>): Promise<number> {
  const client = startClient(args);
  try {
    await client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 45_000).catch((error) => {
      throw new Error(`${(error as Error).message}\nstdout:\n${client.stdout.text()}\nstderr:\n${client.stderr.text()}`);
    });
    await check(client.stdout.text());
    expect((await requestShutdown()).status).toBe(200);
    return await client.exited;
  } finally {
    client.kill();
  }
}

function sans(certificatePem: string): string[] {
  return (new X509Certificate(certificatePem).subjectAltName ?? "").split(", ").map((entry) => entry.replace(/^DNS:/, "")).sort();
}

describe("http01", () => {
  test("one name: certificate obtained, written, served with the full chain, shutdown exits 0 and frees every port", async () => {
    const out = makeTempDir("bun-acme-out-");
    const code = await issueAndServe(baseArgs("http01", out, ["example.test"]), async () => {
      const handshake = await opensslHandshake(5001, "example.test", pebbleRoot);
      expect(handshake.verifyLine).toBe("Verify return code: 0 (ok)");
      expect(handshake.subjects).toHaveLength(2);
      expect(handshake.subjects[0]).toContain("example.test");
      expect(handshake.subjects[1]).toContain("Pebble Intermediate CA");
    });
    expect(code).toBe(0);
    expect(await busyPorts(ETH_TCP_PORTS, ETH_UDP_PORTS)).toEqual([]);
    const chain = readFileSync(join(out, "cert.pem"), "utf8");
    expect(chain.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(sans(chain)).toEqual(["example.test"]);
    expect(statSync(join(out, "key.pem")).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, "key.pem"), "utf8")).toStartWith("-----BEGIN PRIVATE KEY-----");
  });

  test("three names: one certificate carries all of them as SANs", async () => {
    const out = makeTempDir("bun-acme-out-");
    const names = ["a.example.test", "b.example.test", "c.other.test"];
    const code = await issueAndServe(baseArgs("http01", out, names), async () => {
      expect((await opensslHandshake(5001, "c.other.test", pebbleRoot)).verified).toBe(true);
    });
    expect(code).toBe(0);
    expect(sans(readFileSync(join(out, "cert.pem"), "utf8"))).toEqual(names);
  });

  test("RSA-2048 account and certificate keys work too", async () => {
    const out = makeTempDir("bun-acme-out-");
    const args = [...baseArgs("http01", out, ["rsa.example.test"]), "--key-type", "rsa2048", "--account-key-type", "rsa2048"];
    const code = await issueAndServe(args, async () => {
      expect((await opensslHandshake(5001, "rsa.example.test", pebbleRoot)).verified).toBe(true);
    });
    expect(code).toBe(0);
    expect(new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).publicKey.asymmetricKeyType).toBe("rsa");
  });
});

describe("dns01", () => {
  test("a wildcard and its base name in one certificate, proven through the built-in DNS server", async () => {
    const out = makeTempDir("bun-acme-out-");
    const code = await issueAndServe(baseArgs("dns01", out, ["*.x.test", "x.test"]), async () => {
      expect((await opensslHandshake(5001, "anything.x.test", pebbleRoot)).verified).toBe(true);
    });
    expect(code).toBe(0);
    expect(sans(readFileSync(join(out, "cert.pem"), "utf8"))).toEqual(["*.x.test", "x.test"]);
  });
});

describe("--revoke", () => {
  test("the certificate is revoked at the CA and still served", async () => {
    const out = makeTempDir("bun-acme-out-");
    const code = await issueAndServe([...baseArgs("http01", out, ["revoked.example.test"]), "--revoke"], async (stdout) => {
      expect(stdout).toContain("Certificate revoked");
      expect((await opensslHandshake(5001, "revoked.example.test", pebbleRoot)).subjects[0]).toContain("revoked.example.test");
    });
    expect(code).toBe(0);
    const serial = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).serialNumber.toLowerCase();
    const status = await (await pebble.management(`/cert-status-by-serial/${serial}`)).json() as { Status: string };
    expect(status.Status).toBe("Revoked");
  });

  test("without --revoke the certificate stays valid", async () => {
    const out = makeTempDir("bun-acme-out-");
    expect(await issueAndServe(baseArgs("http01", out, ["kept.example.test"]), async () => {})).toBe(0);
    const serial = new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).serialNumber.toLowerCase();
    const status = await (await pebble.management(`/cert-status-by-serial/${serial}`)).json() as { Status: string };
    expect(status.Status).toBe("Valid");
  });
});

describe("trust", () => {
  test("a CA whose TLS certificate is not trusted gets one connection, then a one-line error and exit 1", async () => {
    // A real TLS listener whose certificate chains to a root the client is not given.
    const { certFile, keyFile } = await makeTlsMaterial();
    let connections = 0;
    const listener = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: Bun.file(certFile), key: Bun.file(keyFile) },
      socket: { open() { connections++; }, handshake() {}, data() {} },
    });
    try {
      const out = makeTempDir("bun-acme-out-");
      const args = ["http01", "--dir", `https://127.0.0.1:${listener.port}/dir`, "--record", "127.0.0.1", "--domain", "untrusted.test",
        "--bind", "127.0.0.1", "--out", out];
      const result = await runClient(args, { env: { BUN_ACME_CA: "" } });
      expect(result.code).toBe(1);
      const errorLines = result.stderr.trim().split("\n");
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toContain("not trusted");
      expect(errorLines[0]).not.toContain("    at ");
      expect(connections).toBe(1);
    } finally {
      listener.stop(true);
    }
  });
});

describe("signals", () => {
  test.each([["SIGTERM", 143], ["SIGINT", 130]] as const)("%s while serving closes every server and exits %d", async (signal, expected) => {
    const out = makeTempDir("bun-acme-out-");
    const client = startClient(baseArgs("http01", out, ["signal.example.test"]));
    try {
      await client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 45_000);
      client.kill(signal);
      expect(await client.exited).toBe(expected);
      expect(await busyPorts(ETH_TCP_PORTS, ETH_UDP_PORTS)).toEqual([]);
    } finally {
      client.kill();
    }
  });
});
