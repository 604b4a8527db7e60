/**
 * The issuance flow through the library API against a real Pebble, with the built-in DNS and
 * http-01 servers running in this process.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  AcmeAuthorizationError,
  AcmeProblemError,
  AcmeTransport,
  getAuthorization,
  getOrder,
  issueCertificate,
  registerAccount,
  type Challenge,
  type ChallengeSolver,
  type Identifier,
} from "../../src/acme/index.ts";
import { createCsr } from "../../src/asn1/index.ts";
import { Http01Solver } from "../../src/challenges/index.ts";
import { startDnsServer, type DnsServer } from "../../src/dns/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { serve, type RunningServer } from "../../src/servers/index.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

let pebble: Pebble;
let dns: DnsServer;
let http: RunningServer;
const http01 = new Http01Solver();

beforeAll(async () => {
  pebble = await startPebble();
  dns = await startDnsServer({ hostname: "127.0.0.1", port: 10053, zone: { address: "127.0.0.1", txtValues: () => [] } });
  http = serve({ name: "http-01 challenge server", hostname: "127.0.0.1", port: 5002, handler: (request) => http01.handle(request) });
});
afterAll(async () => {
  dns?.stop();
  await http?.stop();
  await pebble?.stop();
});

function transport(): AcmeTransport {
  return new AcmeTransport({ directoryUrl: pebble.directoryUrl, fetch: (url, init) => fetch(url, { ...init, tls: { ca: pebble.tlsRootPem } }) });
}

/**
 * A solver that answers "bad.*" names with a wrong key authorization (so Pebble fails them) and
 * never finishes presenting "held.*" names, as a slow DNS provider would not.
 */
class MisbehavingSolver implements ChallengeSolver {
  readonly type = "http-01";
  /** Resolves when the flow first asks to present a challenge. */
  readonly asked = Promise.withResolvers<void>();
  present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> | void {
    this.asked.resolve();
    if (identifier.value.startsWith("held.")) return new Promise(() => {});
    http01.present(identifier, challenge, identifier.value.startsWith("bad.") ? `${keyAuthorization}-wrong` : keyAuthorization);
  }
  cleanup(identifier: Identifier, challenge: Challenge): void {
    http01.cleanup(identifier, challenge);
  }
}

describe("issueCertificate()", () => {
  test("obtains a chain for two names", async () => {
    const acme = transport();
    const account = await registerAccount(acme, await generateKeyPair("ec256"));
    const names = ["one.flow.test", "two.flow.test"];
    const issued = await issueCertificate({
      transport: acme,
      account,
      identifiers: names.map((value) => ({ type: "dns", value })),
      solver: http01,
      csr: await createCsr({ dnsNames: names, keyPair: await generateKeyPair("ec256") }),
    });
    expect(issued.pem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect((await getOrder(acme, account, issued.orderUrl)).body.status).toBe("valid");
  });

  test("a failed challenge stops the other authorizations, deactivates the pending one, and names the CA's problem", async () => {
    const acme = transport();
    const account = await registerAccount(acme, await generateKeyPair("ec256"));
    const names = ["bad.flow.test", "held.flow.test"];
    const log: string[] = [];
    const error = await issueCertificate({
      transport: acme,
      account,
      identifiers: names.map((value) => ({ type: "dns", value })),
      solver: new MisbehavingSolver(),
      csr: await createCsr({ dnsNames: names, keyPair: await generateKeyPair("ec256") }),
      log: (line) => log.push(line),
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    const failure = error as AcmeAuthorizationError;
    expect(failure.identifier).toEqual({ type: "dns", value: "bad.flow.test" });
    expect(failure.challengeType).toBe("http-01");
    expect(failure.problem?.type).toBe("urn:ietf:params:acme:error:unauthorized");
    expect(failure.message).toContain("bad.flow.test");

    const deactivated = log.filter((line) => line.endsWith("deactivated")).map((line) => line.split(" ")[1]!);
    expect(deactivated).toHaveLength(1);
    const held = await getAuthorization(acme, account, deactivated[0]!);
    expect(held.body.identifier.value).toBe("held.flow.test");
    expect(held.body.status).toBe("deactivated");
  });

  test("a CSR naming other names than the order is refused with the CA's problem", async () => {
    const acme = transport();
    const account = await registerAccount(acme, await generateKeyPair("ec256"));
    const error = await issueCertificate({
      transport: acme,
      account,
      identifiers: [{ type: "dns", value: "ordered.flow.test" }],
      solver: http01,
      csr: await createCsr({ dnsNames: ["other.flow.test"], keyPair: await generateKeyPair("ec256") }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).problem.detail).toContain("ordered.flow.test");
  });

  test("a CSR signed with the account key itself gets the CA's badCSR", async () => {
    const acme = transport();
    const accountKeys = await generateKeyPair("ec256");
    const account = await registerAccount(acme, accountKeys);
    const error = await issueCertificate({
      transport: acme,
      account,
      identifiers: [{ type: "dns", value: "samekey.flow.test" }],
      solver: http01,
      csr: await createCsr({ dnsNames: ["samekey.flow.test"], keyPair: accountKeys }),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).problem.type).toBe("urn:ietf:params:acme:error:badCSR");
  });

  test("an aborted signal ends the issuance with its reason", async () => {
    const acme = transport();
    const account = await registerAccount(acme, await generateKeyPair("ec256"));
    const deadline = new AbortController();
    const solver = new MisbehavingSolver();
    const run = issueCertificate({
      transport: acme,
      account,
      identifiers: [{ type: "dns", value: "held.abort.test" }],
      solver,
      csr: await createCsr({ dnsNames: ["held.abort.test"], keyPair: await generateKeyPair("ec256") }),
      signal: deadline.signal,
    });
    const reason = new Error("deadline");
    // Abort once the solver has been asked to present (the flow is then waiting on it).
    await solver.asked.promise;
    deadline.abort(reason);
    expect(await run.catch((e: unknown) => e)).toBe(reason);
  });
});
