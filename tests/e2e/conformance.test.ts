/**
 * The core of the command line against two real CAs: Pebble 2.4.0 and step-ca 0.19 (Smallstep,
 * as Debian packages it, built by project/compile). The same cases run against both: http-01,
 * dns-01 with a wildcard, tls-alpn-01, revocation, account key rollover and authorization
 * deactivation. What a CA does not implement is skipped by name, saying why, never silently.
 *
 * step-ca validates on the standard ports (http-01 on 80, tls-alpn-01 on 443), so the client binds
 * those on 127.0.0.1 for it: these tests run as root, as CI does.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AcmeTransport, deactivateAuthorization, getAuthorization, newOrder, registerAccount } from "../../src/acme/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { requestShutdown, runClient, SERVING_LINE, startClient } from "../support/client.ts";
import { startPebble } from "../support/pebble.ts";
import { startStepCa } from "../support/step-ca.ts";
import { makeTempDir } from "../support/temp.ts";
import { opensslHandshake } from "../support/tls.ts";

setDefaultTimeout(60_000);

/** What the cases need to know of a CA. */
interface ConformanceCa {
  readonly directoryUrl: string;
  /** Verifies the CA's own HTTPS certificate: what --ca takes. */
  readonly tlsRootFile: string;
  /** The root the issued chains lead to. */
  readonly issuingRootPem: string;
  stop(): Promise<void>;
}

/** One CA under test: how to start it, where it validates, and what it does not implement. */
interface CaProfile {
  readonly name: string;
  start(): Promise<ConformanceCa>;
  /** The client ports the CA validates on. */
  readonly ports: { readonly http: number; readonly tls: number };
  /** Capability → why it is skipped on this CA. */
  readonly unsupported: Partial<Record<"keyRollover" | "authorizationDeactivation", string>>;
}

const PROFILES: readonly CaProfile[] = [
  {
    name: "Pebble 2.4.0",
    async start() {
      const pebble = await startPebble();
      const issuingRootPem = await (await pebble.management("/roots/0")).text();
      return { directoryUrl: pebble.directoryUrl, tlsRootFile: pebble.tlsRootFile, issuingRootPem, stop: () => pebble.stop() };
    },
    ports: { http: 5002, tls: 5001 },
    unsupported: {},
  },
  {
    name: "step-ca 0.19",
    async start() {
      const stepCa = await startStepCa({ resolver: "127.0.0.1:10053" });
      return { directoryUrl: stepCa.directoryUrl, tlsRootFile: stepCa.rootFile, issuingRootPem: stepCa.rootPem, stop: () => stepCa.stop() };
    },
    ports: { http: 80, tls: 443 },
    unsupported: {
      keyRollover: "step-ca 0.19 answers keyChange with rejectedIdentifier: The requested operation is not implemented",
      authorizationDeactivation: "step-ca 0.19 answers a deactivation with malformed: The request message was malformed (it takes only POST-as-GET there)",
    },
  },
];

for (const profile of PROFILES) {
  describe(`against ${profile.name}`, () => {
    let ca: ConformanceCa;
    beforeAll(async () => {
      ca = await profile.start();
    });
    afterAll(async () => {
      await ca?.stop();
    });

    /** A test, or the same test skipped with the reason in its name when the CA lacks the capability. */
    const capabilityTest = (capability: keyof CaProfile["unsupported"], name: string, body: () => Promise<void>) => {
      const reason = profile.unsupported[capability];
      if (reason) test.skip(`${name} (skipped: ${reason})`, body);
      else test(name, body);
    };

    /** Runs the ETH command until it serves, checks the served chain with openssl, shuts it down. */
    async function issueAndServe(challenge: "http01" | "dns01" | "tls01", names: string[], extra: string[] = []) {
      const out = makeTempDir("bun-acme-conformance-");
      const args = [challenge, "--dir", ca.directoryUrl, "--ca", ca.tlsRootFile, "--record", "127.0.0.1", "--bind", "127.0.0.1", "--out", out,
        "--http-port", String(profile.ports.http), "--https-port", String(challenge === "tls01" ? profile.ports.tls : 5001),
        ...names.flatMap((name) => ["--domain", name]), ...extra];
      const client = startClient(args);
      try {
        await client.stdout.waitFor((line) => line.startsWith(SERVING_LINE), 45_000).catch((error) => {
          throw new Error(`${(error as Error).message}\nstdout:\n${client.stdout.text()}\nstderr:\n${client.stderr.text()}`);
        });
        const servedOn = challenge === "tls01" ? profile.ports.tls : 5001;
        const handshake = await opensslHandshake(servedOn, names[0]!.replace(/^\*\./, "x."), ca.issuingRootPem);
        expect(handshake.verifyLine).toBe("Verify return code: 0 (ok)");
        expect((await requestShutdown()).status).toBe(200);
        expect(await client.exited).toBe(0);
        return { out, stdout: client.stdout.text() };
      } finally {
        client.kill();
      }
    }

    const sans = (out: string) =>
      (new X509Certificate(readFileSync(join(out, "cert.pem"), "utf8")).subjectAltName ?? "").split(", ").map((name) => name.replace(/^DNS:/, "")).sort();

    test("http-01: one name obtained, served with a chain that verifies to the CA's root", async () => {
      const { out } = await issueAndServe("http01", ["http.conformance.test"]);
      expect(sans(out)).toEqual(["http.conformance.test"]);
    });

    test("dns-01: a wildcard and its base name in one certificate, through the built-in DNS server", async () => {
      const { out } = await issueAndServe("dns01", ["wild.conformance.test", "*.wild.conformance.test"]);
      expect(sans(out)).toEqual(["*.wild.conformance.test", "wild.conformance.test"]);
    });

    test("tls-alpn-01: validated on the HTTPS port, which then serves the certificate", async () => {
      const { out } = await issueAndServe("tls01", ["alpn.conformance.test"]);
      expect(sans(out)).toEqual(["alpn.conformance.test"]);
    });

    test("revocation: --revoke revokes it; the revoke command then hears it is already revoked", async () => {
      const { out, stdout } = await issueAndServe("http01", ["revoked.conformance.test"], ["--revoke"]);
      expect(stdout).toContain("Certificate revoked (");
      const again = await runClient(["revoke", "--dir", ca.directoryUrl, "--ca", ca.tlsRootFile, "--cert", join(out, "cert.pem"), "--cert-key", join(out, "key.pem")]);
      expect(again.stderr).toBe("");
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("was already revoked (the CA says:");
    });

    capabilityTest("keyRollover", "account --rollover: the CA takes the new key (keyChange) and it is saved", async () => {
      const state = makeTempDir("bun-acme-conformance-state-");
      const accountArgs = ["account", "--dir", ca.directoryUrl, "--ca", ca.tlsRootFile, "--state", state];
      expect((await runClient(accountArgs)).code).toBe(0);
      const keyBefore = readFileSync(join(state, "account-key.pem"), "utf8");
      const rollover = await runClient([...accountArgs, "--rollover"]);
      expect(rollover.stderr).toBe("");
      expect(rollover.code).toBe(0);
      expect(readFileSync(join(state, "account-key.pem"), "utf8")).not.toBe(keyBefore);
    });

    capabilityTest("authorizationDeactivation", "a pending authorization can be deactivated (what a cancelled run does)", async () => {
      const transport = new AcmeTransport({ directoryUrl: ca.directoryUrl, ca: readFileSync(ca.tlsRootFile, "utf8") });
      const account = await registerAccount(transport, await generateKeyPair("ec256"));
      const order = await newOrder(transport, account, [{ type: "dns", value: "deactivate.conformance.test" }]);
      const url = order.body.authorizations[0]!;
      expect((await getAuthorization(transport, account, url)).body.status).toBe("pending");
      expect((await deactivateAuthorization(transport, account, url)).body.status).toBe("deactivated");
    });
  });
}
