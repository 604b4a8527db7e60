/**
 * The transport and endpoint layers against a real Pebble, plus the pure header parsers.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  AcmeProblemError,
  AcmeTransport,
  formatProblem,
  getAuthorization,
  newOrder,
  parseRetryAfter,
  registerAccount,
} from "../../src/acme/index.ts";
import { parseLinks } from "../../src/acme/transport.ts";
import { generateKeyPair } from "../../src/jose/index.ts";
import { startPebble, type Pebble } from "../support/pebble.ts";

// Starts processes (Pebble, the client): allow more than the 5 s default.
setDefaultTimeout(60_000);

interface Counted {
  transport: AcmeTransport;
  methods: string[];
}

/** A transport whose fetch records every request method (the requests still go to the real Pebble). */
function countingTransport(pebble: Pebble): Counted {
  const methods: string[] = [];
  const transport = new AcmeTransport({
    directoryUrl: pebble.directoryUrl,
    fetch: (url, init) => {
      methods.push(`${init.method} ${new URL(url).pathname}`);
      return fetch(url, { ...init, tls: { ca: pebble.tlsRootPem } });
    },
  });
  return { transport, methods };
}

describe("against Pebble", () => {
  let pebble: Pebble;
  beforeAll(async () => {
    pebble = await startPebble({ config: { domainBlocklist: ["blocked.test"] } });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  test("the nonce pool is fed by every response: one HEAD newNonce for a whole exchange", async () => {
    const { transport, methods } = countingTransport(pebble);
    const account = await registerAccount(transport, await generateKeyPair("ec256"));
    const order = await newOrder(transport, account, [{ type: "dns", value: "pool.example.test" }]);
    await getAuthorization(transport, account, order.body.authorizations[0]!);
    expect(methods.filter((method) => method.startsWith("HEAD"))).toHaveLength(1);
    expect(methods).toHaveLength(5); // GET dir, HEAD nonce, newAccount, newOrder, authorization
    expect(transport.requestCount).toBe(5);
  });

  test("the CA's problem document is kept whole in AcmeProblemError", async () => {
    const { transport } = countingTransport(pebble);
    const account = await registerAccount(transport, await generateKeyPair("ec256"));
    const error = await newOrder(transport, account, [{ type: "dns", value: "blocked.test" }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    const problem = (error as AcmeProblemError).problem;
    expect(problem.type).toBe("urn:ietf:params:acme:error:rejectedIdentifier");
    expect(problem.detail).toContain("blocked.test");
    expect((error as AcmeProblemError).status).toBe(400);
    expect((error as AcmeProblemError).shortType).toBe("rejectedIdentifier");
    expect((error as Error).message).toContain("rejectedIdentifier");
  });
});

describe("against Pebble rejecting every nonce", () => {
  let pebble: Pebble;
  beforeAll(async () => {
    pebble = await startPebble({ env: { PEBBLE_WFE_NONCEREJECT: "100" }, listenPort: 14100, managementPort: 15100 });
  });
  afterAll(async () => {
    await pebble?.stop();
  });

  test("badNonce is retried a bounded number of times, then surfaces as the CA's problem", async () => {
    const { transport, methods } = countingTransport(pebble);
    const error = await registerAccount(transport, await generateKeyPair("ec256")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AcmeProblemError);
    expect((error as AcmeProblemError).shortType).toBe("badNonce");
    // 1 try + 20 retries, each using the nonce from the previous error: one HEAD only.
    expect(methods.filter((method) => method.startsWith("POST"))).toHaveLength(21);
    expect(methods.filter((method) => method.startsWith("HEAD"))).toHaveLength(1);
  });
});

describe("parseRetryAfter()", () => {
  const now = Date.parse("2026-11-28T12:00:00Z");
  test.each([
    ["3", 3000],
    ["0", 0],
    ["Sat, 28 Nov 2026 12:00:10 GMT", 10_000],
    ["Sat, 28 Nov 2026 11:59:00 GMT", 0],
  ] as [string, number][])("parseRetryAfter(%p) is %p ms", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
  test("missing or garbage values give undefined", () => {
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("parseLinks()", () => {
  test("splits headers joined by ', ' only before '<', resolves relative URLs", () => {
    const header = '<https://ca.test/cert/1/1>;rel="alternate", </directory>;rel="index", <https://ca.test/a,b>; rel=alternate';
    expect(parseLinks(header, "https://ca.test/cert/1")).toEqual([
      { url: "https://ca.test/cert/1/1", rel: "alternate" },
      { url: "https://ca.test/directory", rel: "index" },
      { url: "https://ca.test/a,b", rel: "alternate" },
    ]);
  });
});

describe("formatProblem()", () => {
  test("puts type, detail and each subproblem with its identifier on one line", () => {
    const text = formatProblem({
      type: "urn:ietf:params:acme:error:rejectedIdentifier",
      detail: "Some names were refused",
      subproblems: [{ type: "urn:ietf:params:acme:error:caa", detail: "CAA forbids\nissuance", identifier: { type: "dns", value: "a.test" } }],
    });
    expect(text).toBe("rejectedIdentifier: Some names were refused; dns a.test: caa: CAA forbids issuance");
  });
});
