/**
 * The flow against a FAKE CA (tests/support/fake-ca.ts) with a fake clock: the paths Pebble never
 * takes, each in milliseconds, with no socket.
 */
import { describe, expect, test } from "bun:test";
import {
  AcmeAuthorizationError,
  AcmeCertificateError,
  AcmeOrderError,
  AcmeTransport,
  issueCertificate,
  registerAccount,
  type Challenge,
  type ChallengeSolver,
  type Identifier,
} from "../../src/acme/index.ts";
import { createCsr } from "../../src/asn1/index.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { FakeCa, fakeClock, type FakeCaScript } from "../support/fake-ca.ts";
import { spkiOf } from "../support/certificates.ts";

const DIRECTORY = "https://fake-ca.test/dir";

/** A solver that records what it was asked; the fake CA reads the key authorizations it presented as its http-01 answers. */
class RecordingSolver implements ChallengeSolver {
  readonly type = "http-01";
  readonly presented: string[] = [];
  readonly cleaned: string[] = [];
  /** Key authorization by token, as an http-01 responder would serve it (`serve` can bend it). */
  readonly answers = new Map<string, string>();
  private readonly serve: (keyAuthorization: string) => string;
  constructor(serve: (keyAuthorization: string) => string = (keyAuthorization) => keyAuthorization) {
    this.serve = serve;
  }
  present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): void {
    this.presented.push(identifier.value);
    this.answers.set(challenge.token, this.serve(keyAuthorization));
  }
  cleanup(identifier: Identifier): void {
    this.cleaned.push(identifier.value);
  }
}

async function issue(script: FakeCaScript, extra: { preferredChain?: string; names?: string[]; serve?: (keyAuthorization: string) => string } = {}) {
  const clock = fakeClock();
  const solver = new RecordingSolver(extra.serve);
  const ca = new FakeCa({ now: clock.now, http01: (_identifier, token) => solver.answers.get(token), ...script });
  const transport = new AcmeTransport({ directoryUrl: DIRECTORY, fetch: ca.fetch, clock });
  const account = await registerAccount(transport, await generateKeyPair("ec256"));
  const names = extra.names ?? ["a.fake.test"];
  const identifiers = names.map((value) => ({ type: "dns", value }) as const);
  const log: string[] = [];
  const result = await issueCertificate({
    transport,
    account,
    identifiers,
    solver,
    clock,
    csr: await createCsr({ identifiers, keyPair: await generateKeyPair("ec256") }),
    log: (line) => log.push(line),
    ...(extra.preferredChain ? { preferredChain: extra.preferredChain } : {}),
  }).then((issued) => ({ issued, error: undefined }), (error: unknown) => ({ issued: undefined, error }));
  return { ...result, ca, solver, log, elapsedMs: clock.elapsed() };
}

describe("the fake CA checks key authorizations as a CA does", () => {
  test("the key authorization the flow presents (token.thumbprint of the account key) validates", async () => {
    const { issued, error, solver } = await issue({});
    expect(error).toBeUndefined();
    expect(issued?.pem).toContain("BEGIN CERTIFICATE");
    expect([...solver.answers.values()]).toEqual([expect.stringMatching(/^token0\.[\w-]{43}$/)]);
  });

  test.each([
    ["another account key's thumbprint", (keyAuthorization: string) => `${keyAuthorization.split(".")[0]}.${"A".repeat(43)}`],
    ["the token alone", (keyAuthorization: string) => keyAuthorization.split(".")[0]!],
    ["a trailing character", (keyAuthorization: string) => `${keyAuthorization}x`],
  ])("an http-01 answer with %s fails the challenge: incorrectResponse, the order invalid", async (_label, serve) => {
    const { error, solver } = await issue({}, { serve });
    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    const problem = (error as AcmeAuthorizationError).problem;
    expect(problem?.type).toBe("urn:ietf:params:acme:error:incorrectResponse");
    expect(problem?.detail).toStartWith('The key authorization file from the server did not match this challenge. Expected "token0.');
    expect(solver.cleaned).toEqual(["a.fake.test"]);
  });
});

describe("issueCertificate() against a fake CA", () => {
  test("a CA that marks the authorization invalid but leaves the order pending (acme2certifier) fails within seconds with its problem", async () => {
    const { error, elapsedMs, solver, ca } = await issue({ onAnswer: "invalid-authorization" });
    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    expect((error as AcmeAuthorizationError).problem?.detail).toBe("the fake CA says: wrong key authorization");
    expect((error as AcmeAuthorizationError).message).toContain("incorrectResponse: the fake CA says: wrong key authorization");
    expect(elapsedMs).toBeLessThan(5_000);
    expect(solver.cleaned).toEqual(["a.fake.test"]);
    expect(ca.requests.filter((request) => request === "POST /authz/0").length).toBeGreaterThanOrEqual(2);
  });

  test("a CA that answers the challenge back at pending with an error (step-ca) fails at once with its problem", async () => {
    const { error, elapsedMs, ca } = await issue({ onAnswer: "pending-with-error-now" });
    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    expect((error as AcmeAuthorizationError).problem?.type).toBe("urn:ietf:params:acme:error:incorrectResponse");
    expect(elapsedMs).toBe(0);
    expect(ca.requests).not.toContain("POST /order/0");
  });

  test("a challenge that later shows pending with an error, the order pending, fails within seconds", async () => {
    const { error, elapsedMs } = await issue({ onAnswer: "pending-with-error-later" });
    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    expect((error as AcmeAuthorizationError).message).toContain("the fake CA says: wrong key authorization");
    expect(elapsedMs).toBeLessThan(5_000);
  });

  test("an invalid order is explained from its authorization's challenge", async () => {
    const { error } = await issue({ onAnswer: "order-invalid", challengeError: { type: "urn:ietf:params:acme:error:dns", detail: "NXDOMAIN looking up A" } });
    expect(error).toBeInstanceOf(AcmeAuthorizationError);
    expect((error as AcmeAuthorizationError).message).toBe("Authorization of dns a.fake.test with http-01 failed: dns: NXDOMAIN looking up A");
  });

  test("a challenge the CA keeps processing is waited for until the poll deadline, checking the authorization with backoff", async () => {
    const { error, elapsedMs, ca } = await issue({ onAnswer: "never" });
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/Gave up waiting for the authorizations of order .* after 120 s/);
    expect(elapsedMs).toBeGreaterThanOrEqual(120_000);
    // Checked after 1 s and then with the interval doubling: a handful of fetches, not one per poll.
    const authorizationFetches = ca.requests.filter((request) => request === "POST /authz/0").length;
    expect(authorizationFetches).toBeGreaterThan(2);
    expect(authorizationFetches).toBeLessThan(12);
  });

  test("Retry-After on a pending order replaces the computed poll wait", async () => {
    const { issued, elapsedMs, ca } = await issue({ pendingPolls: 2, retryAfterSeconds: 3 });
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    // The first poll after the 10 ms first wait, then two waits of 3 s that Retry-After asked for.
    expect(ca.requests.filter((request) => request === "POST /order/0")).toHaveLength(3);
    expect(elapsedMs).toBe(10 + 3_000 + 3_000);
  });

  test("503 with Retry-After at newOrder is retried after the CA's delay, signed anew", async () => {
    const { issued, elapsedMs, ca } = await issue({ newOrderUnavailable: 2 });
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    expect(ca.requests.filter((request) => request === "POST /order")).toHaveLength(3);
    expect(elapsedMs).toBeGreaterThanOrEqual(2_000);
    expect(elapsedMs).toBeLessThan(2_100);
  });

  test("orderNotReady at finalize: waits for the order to leave pending and finalizes again", async () => {
    const { issued, ca } = await issue({ finalizeNotReady: 1 });
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    expect(ca.requests.filter((request) => request.startsWith("POST /finalize/")).length).toBe(2);
  });

  test("already valid authorizations: nothing is presented and the order is finalized at once", async () => {
    const { issued, solver, ca } = await issue({ authorizationsAlreadyValid: true }, { names: ["a.fake.test", "b.fake.test"] });
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    expect(solver.presented).toEqual([]);
    expect(ca.requests.filter((request) => request.startsWith("POST /authz/"))).toEqual([]);
  });

  test("a preferred chain offered as an alternate is taken", async () => {
    const { issued, log, ca } = await issue({}, { preferredChain: "Root B" });
    expect(issued?.pem).toBe(ca.issuedChains[1]!);
    expect(log).toContain('Using the alternate chain https://fake-ca.test/cert/1, issued by "Root B"');
  });

  test("a preferred chain nobody offers falls back to the default", async () => {
    const { issued, log, ca } = await issue({}, { preferredChain: "Root C" });
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    expect(log.at(-1)).toBe('No chain is issued by "Root C" (default: "Root A", 1 alternate(s)); keeping the default');
  });
});

describe("a hostile CA's certificate is refused before anyone sees it (FAKE CA)", () => {
  const cases: [string, FakeCaScript["issue"], RegExp][] = [
    ["other names", (request) => request.mint({ dnsNames: ["evil.example"] }), /its names \(evil\.example\) are not the names ordered \(a\.fake\.test\)/],
    ["one name missing", (request) => request.mint({ dnsNames: [] }), /its names \(none\) are not the names ordered/],
    ["another key", async (request) => request.mint({ spki: await spkiOf(await generateKeyPair("ec256")) }), /certifies another public key than the one in the CSR/],
    ["expired", (request) => request.mint({ notBefore: new Date(Date.UTC(2025, 0, 1)), notAfter: new Date(Date.UTC(2025, 11, 31)) }), /it expired at 2025-12-31T00:00:00\.000Z/],
    ["not yet valid", (request) => request.mint({ notBefore: new Date(Date.UTC(2026, 0, 2)) }), /it is not valid before 2026-01-02/],
    ["a leaf not signed by the intermediate that follows it", async (request) => request.mint({ leafSignedBy: await generateKeyPair("ec256") }),
      /certificate 1 \("a\.fake\.test"\) is not signed by certificate 2 \("Fake Intermediate"\), which follows it/],
    ["a certificate followed by one that did not issue it", async (request) => {
      const [chain, alternate] = await request.mint();
      return [chain! + alternate!.split(/(?<=-----END CERTIFICATE-----\n)/)[1]!];
    }, /certificate 2 \("Fake Intermediate"\) names another issuer than certificate 3 \("Fake Intermediate"\), which follows it/],
    ["garbage", async () => ["-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n"], /certificate 1 cannot be read/],
    ["truncated PEM", async (request) => [(await request.mint())[0]!.slice(0, 300)], /it is not PEM \(Cannot decode PEM: "CERTIFICATE" block has no END line\)/],
    ["text and a key around the certificates", async (request) => [`hello\n${(await request.mint())[0]}`], /it holds text outside its PEM blocks/],
    ["a private key in the chain", async (request) => [`${(await request.mint())[0]}-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`],
      /block 3 is a "PRIVATE KEY", not a CERTIFICATE/],
  ];
  test.each(cases)("%s: AcmeCertificateError saying why", async (_, hostile, reason) => {
    const { error, issued } = await issue({ issue: hostile });
    expect(issued).toBeUndefined();
    expect(error).toBeInstanceOf(AcmeCertificateError);
    expect((error as Error).message).toStartWith("The certificate from https://fake-ca.test/cert/0 was refused, nothing was written: ");
    expect((error as Error).message).toMatch(reason);
  });

  test("several names in another order and case are accepted", async () => {
    const { issued, error, ca } = await issue({
      issue: (request) => request.mint({ dnsNames: ["B.fake.test", "a.fake.test"] }),
    }, { names: ["a.fake.test", "b.fake.test"] });
    expect(error).toBeUndefined();
    expect(issued?.pem).toBe(ca.issuedChains[0]!);
    expect(issued?.leaf.dnsNames).toEqual(["B.fake.test", "a.fake.test"]);
  });

  test("a preferred alternate chain is checked too", async () => {
    let calls = 0;
    const { error } = await issue({
      issue: async (request) => {
        calls++;
        const [good, alternate] = await request.mint();
        const [bad] = await request.mint({ leafSignedBy: await generateKeyPair("ec256") });
        return [good!, bad!.replace(/-----BEGIN CERTIFICATE-----[\s\S]*$/, "") + alternate!.split(/(?<=-----END CERTIFICATE-----\n)/)[1]!];
      },
    }, { preferredChain: "Root B" });
    expect(calls).toBe(1);
    expect(error).toBeInstanceOf(AcmeCertificateError);
    expect((error as Error).message).toContain("https://fake-ca.test/cert/0");
  });
});

test("AcmeOrderError is exported for orders invalid with no failed authorization", () => {
  expect(new AcmeOrderError("https://fake-ca.test/order/0", undefined).message).toContain("the CA gave no reason");
});

describe("a CA that validates inside the challenge POST (step-ca's way)", () => {
  /** The fake CA takes the POST (and validates: the authorization turns valid) but answers only after the client gave up. */
  async function issueWithSilentChallengePost(challengeTimeoutMs: number, cut: "timeout" | "reset" = "timeout") {
    const clock = fakeClock();
    const ca = new FakeCa({ now: clock.now });
    const fetch = (async (input: string, init: RequestInit) => {
      const response = await ca.fetch(input, init);
      if (init.method === "POST" && new URL(input).pathname.startsWith("/chall/")) {
        // step-ca 0.19 cuts the connection when its validation outlasts its write timeout.
        if (cut === "reset") throw Object.assign(new Error("The socket connection was closed unexpectedly"), { code: "ECONNRESET" });
        await new Promise((_, reject) => init.signal!.addEventListener("abort", () => reject(init.signal!.reason), { once: true }));
      }
      return response;
    }) as unknown as typeof globalThis.fetch;
    const transport = new AcmeTransport({ directoryUrl: DIRECTORY, fetch, clock, challengeTimeoutMs });
    const account = await registerAccount(transport, await generateKeyPair("ec256"));
    const identifiers = [{ type: "dns", value: "slow.fake.test" }] as const;
    const log: string[] = [];
    const result = await issueCertificate({
      transport, account, identifiers, solver: new RecordingSolver(), clock, log: (line) => log.push(line),
      csr: await createCsr({ identifiers, keyPair: await generateKeyPair("ec256") }),
    }).then((issued) => ({ issued, error: undefined }), (error: unknown) => ({ issued: undefined, error }));
    return { ...result, ca, log };
  }

  test("a challenge POST that times out is sent once, never again; the authorization is polled and the certificate issued", async () => {
    const { issued, error, ca, log } = await issueWithSilentChallengePost(50);
    expect(error).toBeUndefined();
    expect(issued?.pem).toContain("BEGIN CERTIFICATE");
    expect(ca.requests.filter((request) => request.startsWith("POST /chall/"))).toHaveLength(1);
    expect(log.some((line) => line.includes("did not answer the http-01 challenge POST") && line.includes("polling the authorization"))).toBe(true);
  });

  test("a challenge POST whose connection is cut (step-ca's write timeout) is not sent again either", async () => {
    const { issued, error, ca } = await issueWithSilentChallengePost(90_000, "reset");
    expect(error).toBeUndefined();
    expect(issued?.pem).toContain("BEGIN CERTIFICATE");
    expect(ca.requests.filter((request) => request.startsWith("POST /chall/"))).toHaveLength(1);
  });

  test("the challenge POST's time limit is its own, longer than other requests' (default 90 s)", () => {
    expect(new AcmeTransport({ directoryUrl: DIRECTORY, requestTimeoutMs: 1_000 }).challengeTimeoutMs).toBe(90_000);
  });
});
