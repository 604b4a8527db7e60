/**
 * A FAKE ACME CA, for the protocol paths a real Pebble never produces: CAs that leave the order
 * `pending` after a failed challenge (acme2certifier marks the authorization `invalid`, step-ca
 * keeps the challenge `pending` with an `error`), `orderNotReady` at finalize, authorizations
 * already valid, invalid orders, alternate chains. It is a `(Request) => Response` handler, so it
 * runs as a `fetch` function in-process (no socket) or behind `Bun.serve` for the command line.
 *
 * It checks what a CA must check of every request: the JWS signature (with the `jwk` of
 * newAccount or the account key named by `kid`), a nonce it issued and never saw before, and a
 * `url` header equal to the request URL. Given where to find http-01 answers (`http01`; served by
 * {@link serveFakeCa} defaults to the test client's port), it validates a challenge as a CA does: the answer must be
 * the key authorization, token "." the RFC 7638 thumbprint of the account's key, computed here apart from src/jose;
 * else the challenge, authorization and order become invalid (incorrectResponse). Everything else follows
 * {@link FakeCaScript}.
 */
import { createHash } from "node:crypto";
import { readCsr } from "../../src/asn1/index.ts";
import { decodeBase64Url, tryParseIp, utf8Decode } from "../../src/encoding/index.ts";
import { generateKeyPair, KEY_ALGORITHMS, type JwsAlgorithm } from "../../src/jose/index.ts";
import { buildCertificate, chainPem, createTestRoot, DAY, spkiOf, type TestIssuer } from "./certificates.ts";

/** What finalize is asked to certify, and the fake's honest issuance, for a hostile script to bend. */
export interface IssueRequest {
  /** The CSR's SubjectPublicKeyInfo. */
  readonly spki: Uint8Array;
  readonly identifiers: readonly { readonly type: string; readonly value: string }[];
  /**
   * Issues the chains an honest CA would (leaf, intermediate; one chain up to "Root A", an
   * alternate up to "Root B"), with any part replaced.
   */
  mint(overrides?: MintOverrides): Promise<string[]>;
}

/** What a hostile issuance changes. */
export interface MintOverrides {
  readonly dnsNames?: readonly string[];
  readonly spki?: Uint8Array;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  /** Signs the leaf with another key than the intermediate's. */
  readonly leafSignedBy?: CryptoKeyPair;
}

/** How the fake behaves. */
export interface FakeCaScript {
  /**
   * What happens when a challenge is answered:
   * - `valid`: challenge and authorization valid, the order `ready` (as Pebble does);
   * - `invalid-authorization`: the answer says `processing`; the authorization then shows `invalid`
   *   with the challenge's error, while the order stays `pending` (acme2certifier);
   * - `pending-with-error-now`: the answer itself is the challenge back at `pending` with an error (step-ca);
   * - `pending-with-error-later`: the answer says `processing`; later fetches show the challenge
   *   `pending` with an error, the authorization and the order `pending`;
   * - `order-invalid`: the order becomes `invalid` with no error of its own, the authorization
   *   `invalid` with the challenge's error;
   * - `never`: the challenge stays `processing` for ever.
   */
  readonly onAnswer?: "valid" | "invalid-authorization" | "pending-with-error-now" | "pending-with-error-later" | "order-invalid" | "never";
  /** New orders come with every authorization already valid (reuse), so the order is `ready`. */
  readonly authorizationsAlreadyValid?: boolean;
  /** Times finalize answers `orderNotReady` before it accepts. */
  readonly finalizeNotReady?: number;
  /** Replaces the honest issuance at finalize: a hostile CA's certificate chains (default first). */
  readonly issue?: (request: IssueRequest) => Promise<readonly string[]>;
  /** The CA's time, for the validity of what it issues (default `Date.now`). */
  readonly now?: () => number;
  /**
   * The CA offers ARI (RFC 9773): its directory lists `renewalInfo`, which answers every
   * certificate ID with this window (and Retry-After: 6 hours).
   */
  readonly renewalInfo?: { readonly start: string; readonly end: string };
  /** Deactivating an authorization takes this long (a CA that hangs while the client cleans up). */
  readonly slowDeactivationMs?: number;
  /** Replaces a URL the fake hands out (a hostile CA pointing elsewhere). */
  readonly rewriteUrl?: (kind: "authorization" | "certificate" | "order", url: string) => string;
  /** Answers a request before the fake does, when it returns a response (a hostile body, a slow one). */
  readonly intercept?: (request: Request) => Response | undefined;
  /** With `valid`: the order still shows `pending` for this many polls after the answer. */
  readonly pendingPolls?: number;
  /** `Retry-After` (seconds) on every order fetched while `pending`. */
  readonly retryAfterSeconds?: number;
  /** newOrder answers 503 with `Retry-After: 1` this many times first. */
  readonly newOrderUnavailable?: number;
  /** The problem put on failed challenges. */
  readonly challengeError?: { readonly type: string; readonly detail: string };
  /**
   * Where the fake fetches http-01 answers when a challenge is answered (with `onAnswer` `valid`, the default): the
   * port of a responder on 127.0.0.1 (GET /.well-known/acme-challenge/TOKEN, Host: the name), or a function giving
   * the answer (in-process tests: what the solver presented). Unset: nothing is fetched and any answer is valid.
   */
  readonly http01?: number | ((identifier: string, token: string) => string | undefined | Promise<string | undefined>);
}

/** RFC 7638 thumbprint, written apart from src/jose: the required members in lexicographic order, SHA-256, base64url. */
export function fakeCaThumbprint(jwk: JsonWebKey): string {
  const members = jwk.kty === "RSA" ? ["e", "kty", "n"] : jwk.kty === "EC" ? ["crv", "kty", "x", "y"] : ["crv", "kty", "x"];
  const canonical = `{${members.map((member) => `"${member}":${JSON.stringify((jwk as Record<string, unknown>)[member])}`).join(",")}}`;
  return createHash("sha256").update(canonical).digest("base64url");
}

interface FakeOrder {
  status: "pending" | "ready" | "processing" | "valid" | "invalid";
  identifiers: { type: string; value: string }[];
  authorizations: string[];
  /** Where its chains are among `certificates` (default chain first), once finalized. */
  certificates?: number[];
}

interface FakeAuthorization {
  status: "pending" | "valid" | "invalid" | "deactivated";
  identifier: { type: string; value: string };
  challenge: { type: string; url: string; token: string; status: string; error?: unknown };
  order: FakeOrder;
}

/** A fake CA at `https://fake-ca.test` (or wherever it is served). */
export class FakeCa {
  script: FakeCaScript;
  /** Every request: method and path. */
  readonly requests: string[] = [];
  /** Every newOrder payload (identifiers, and `replaces` when a renewal sent it). */
  readonly orderPayloads: unknown[] = [];
  private readonly nonces = new Set<string>();
  private nonceCounter = 0;
  private readonly accounts = new Map<string, JsonWebKey>();
  private readonly orders: FakeOrder[] = [];
  private readonly authorizations: FakeAuthorization[] = [];
  private finalizeRefusals = 0;
  private unavailable = 0;
  private pendingPollsLeft = 0;
  private hierarchy: Promise<{ roots: TestIssuer[]; intermediate: CryptoKeyPair }> | undefined;
  /** The chains the last finalize issued (the first order's are served at /cert/0, default, and /cert/1, alternate). */
  issuedChains: readonly string[] = [];
  /** Every chain issued, by its number in /cert/N: concurrent orders each get their own. */
  private readonly certificates: { chain: string; order: FakeOrder }[] = [];

  constructor(script: FakeCaScript = {}) {
    this.script = script;
  }

  /** From now on behaves as `script` says (e.g. a CA that was fine and then rate-limits). */
  follow(script: FakeCaScript): void {
    this.script = script;
  }

  /** Forgets every account, as a CA that was reset does: requests signed with a known `kid` now get `accountDoesNotExist`. */
  forgetAccounts(): void {
    this.accounts.clear();
  }

  /** The `fetch` function that sends requests to this fake in-process. */
  readonly fetch = (url: string, init: RequestInit): Promise<Response> => this.handle(new Request(url, init));

  /** Answers one request. */
  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const base = url.origin;
    this.requests.push(`${request.method} ${url.pathname}`);
    const intercepted = this.script.intercept?.(request);
    if (intercepted) return intercepted;
    if (url.pathname === "/dir") {
      return Response.json({
        newNonce: `${base}/nonce`, newAccount: `${base}/account`, newOrder: `${base}/order`,
        revokeCert: `${base}/revoke`, keyChange: `${base}/key-change`,
        ...(this.script.renewalInfo ? { renewalInfo: `${base}/renewal-info` } : {}),
      });
    }
    if (url.pathname.startsWith("/renewal-info/") && this.script.renewalInfo) {
      return Response.json({ suggestedWindow: this.script.renewalInfo }, { headers: { "retry-after": "21600" } });
    }
    if (url.pathname === "/nonce") return new Response(null, { status: 200, headers: this.nonceHeader() });
    if (request.method !== "POST") return this.problem("malformed", `${request.method} is not allowed here`, 405);
    const verified = await this.verify(request);
    if (verified instanceof Response) return verified;
    return this.route(url, base, verified.payload, verified.kid);
  }

  private route(url: URL, base: string, payload: unknown, kid: string | undefined): Response | Promise<Response> {
    const [, kind, id] = url.pathname.split("/");
    const index = Number(id);
    if (kind === "account" && id === undefined) {
      return this.json({ status: "valid" }, 201, { location: `${base}/account/${this.accounts.size - 1}` });
    }
    if (kid === undefined) return this.problem("malformed", "a kid is required here");
    if (kind === "order" && id === undefined) {
      if (this.unavailable < (this.script.newOrderUnavailable ?? 0)) {
        this.unavailable++;
        return Response.json({ type: "urn:ietf:params:acme:error:serverInternal", detail: "the fake CA is busy", status: 503 }, {
          status: 503,
          headers: { "content-type": "application/problem+json", "retry-after": "1", ...this.nonceHeader() },
        });
      }
      this.orderPayloads.push(payload);
      return this.newOrder(base, payload as { identifiers: { type: string; value: string }[] });
    }
    if (kind === "order") return this.order(base, this.orders[index]!);
    if (kind === "authz") return this.authorization(base, this.authorizations[index]!, payload);
    if (kind === "chall") return this.answer(base, this.authorizations[index]!, kid);
    if (kind === "finalize") return this.finalize(base, this.orders[index]!, payload as { csr: string });
    if (kind === "cert") {
      const order = this.certificates[index]?.order;
      const links = (order?.certificates ?? []).filter((i) => i !== index).map((i) => `<${base}/cert/${i}>;rel="alternate"`);
      return new Response(this.certificates[index]?.chain ?? "", { headers: { "content-type": "application/pem-certificate-chain", link: links.join(", "), ...this.nonceHeader() } });
    }
    return this.problem("malformed", `no resource ${url.pathname}`, 404);
  }

  private newOrder(base: string, payload: { identifiers: { type: string; value: string }[] }): Response {
    this.pendingPollsLeft = this.script.pendingPolls ?? 0;
    const order: FakeOrder = { status: this.script.authorizationsAlreadyValid ? "ready" : "pending", identifiers: payload.identifiers, authorizations: [] };
    this.orders.push(order);
    for (const identifier of payload.identifiers) {
      const n = this.authorizations.length;
      order.authorizations.push(this.rewrite("authorization", `${base}/authz/${n}`));
      this.authorizations.push({
        status: this.script.authorizationsAlreadyValid ? "valid" : "pending",
        identifier,
        challenge: { type: "http-01", url: `${base}/chall/${n}`, token: `token${n}`, status: this.script.authorizationsAlreadyValid ? "valid" : "pending" },
        order,
      });
    }
    return this.json(this.orderBody(base, order), 201, { location: this.rewrite("order", `${base}/order/${this.orders.length - 1}`) });
  }

  private order(base: string, order: FakeOrder): Response {
    const answered = this.authorizations.some((authorization) => authorization.order === order && authorization.challenge.status !== "pending");
    const hidden = order.status === "ready" && answered && this.pendingPollsLeft > 0;
    if (hidden) this.pendingPollsLeft--;
    const body = { ...(this.orderBody(base, order) as object), ...(hidden ? { status: "pending" } : {}) };
    const retryAfter: Record<string, string> = this.script.retryAfterSeconds !== undefined && (hidden || order.status === "pending")
      ? { "retry-after": String(this.script.retryAfterSeconds) }
      : {};
    return this.json(body, 200, retryAfter);
  }

  private async authorization(base: string, authorization: FakeAuthorization, payload: unknown): Promise<Response> {
    if ((payload as { status?: string } | undefined)?.status === "deactivated") {
      if (this.script.slowDeactivationMs) await Bun.sleep(this.script.slowDeactivationMs);
      authorization.status = "deactivated";
    }
    const { challenge } = authorization;
    return this.json({ status: authorization.status, identifier: authorization.identifier, challenges: [challenge] });
  }

  /** Fetches the http-01 answer and compares it with the key authorization; the problem when they differ. */
  private async validate(authorization: FakeAuthorization, kid: string): Promise<{ type: string; detail: string; status: number } | undefined> {
    const source = this.script.http01;
    if (source === undefined) return undefined;
    const { identifier, challenge } = authorization;
    const expected = `${challenge.token}.${fakeCaThumbprint(this.accounts.get(kid)!)}`;
    let got: string | undefined;
    try {
      if (typeof source === "number") {
        const response = await fetch(`http://127.0.0.1:${source}/.well-known/acme-challenge/${challenge.token}`, { headers: { host: identifier.value } });
        got = response.ok ? (await response.text()).trimEnd() : `HTTP ${response.status}`;
      } else {
        got = await source(identifier.value, challenge.token);
      }
    } catch (error) {
      return { type: "urn:ietf:params:acme:error:connection", detail: `the fake CA could not fetch the http-01 answer for ${identifier.value}: ${(error as Error).message}`, status: 400 };
    }
    if (got === expected) return undefined;
    return { type: "urn:ietf:params:acme:error:incorrectResponse", detail: `The key authorization file from the server did not match this challenge. Expected "${expected}" (got "${got}")`, status: 403 };
  }

  private async answer(base: string, authorization: FakeAuthorization, kid: string): Promise<Response> {
    const error = { ...(this.script.challengeError ?? { type: "urn:ietf:params:acme:error:incorrectResponse", detail: "the fake CA says: wrong key authorization" }), status: 403 };
    const { challenge, order } = authorization;
    const mode = this.script.onAnswer ?? "valid";
    const failure = mode === "valid" ? await this.validate(authorization, kid) : undefined;
    if (failure) {
      // As Pebble does: the challenge, its authorization and the order become invalid.
      challenge.status = "invalid";
      challenge.error = failure;
      authorization.status = "invalid";
      order.status = "invalid";
      return this.json({ ...challenge, status: "processing", error: undefined });
    }
    switch (mode) {
      case "valid":
        challenge.status = "valid";
        authorization.status = "valid";
        if (this.authorizations.filter((other) => other.order === order).every((other) => other.status === "valid")) order.status = "ready";
        return this.json(challenge);
      case "invalid-authorization":
        challenge.status = "invalid";
        challenge.error = error;
        authorization.status = "invalid";
        return this.json({ ...challenge, status: "processing", error: undefined });
      case "pending-with-error-now":
        challenge.error = error;
        return this.json(challenge);
      case "pending-with-error-later":
        challenge.error = error;
        return this.json({ ...challenge, status: "processing", error: undefined });
      case "order-invalid":
        challenge.status = "invalid";
        challenge.error = error;
        authorization.status = "invalid";
        order.status = "invalid";
        return this.json({ ...challenge, status: "processing", error: undefined });
      case "never":
        challenge.status = "processing";
        return this.json(challenge);
    }
  }

  private async finalize(base: string, order: FakeOrder, payload: { csr: string }): Promise<Response> {
    if (this.finalizeRefusals < (this.script.finalizeNotReady ?? 0)) {
      this.finalizeRefusals++;
      return this.problem("orderNotReady", "the fake CA says: the order is not ready yet");
    }
    if (order.status !== "ready") return this.problem("orderNotReady", `the order is ${order.status}`);
    const spki = readCsr(decodeBase64Url(payload.csr)).subjectPublicKeyInfo;
    const request: IssueRequest = { spki, identifiers: order.identifiers, mint: (overrides) => this.mint(spki, order.identifiers, overrides) };
    this.issuedChains = await (this.script.issue ?? ((honest: IssueRequest) => honest.mint()))(request);
    order.certificates = this.issuedChains.map((chain) => this.certificates.push({ chain, order }) - 1);
    order.status = "valid";
    return this.json(this.orderBody(base, order));
  }

  /** An honest issuance with any part overridden: chains up to "Root A" and "Root B" sharing one intermediate key. */
  private async mint(spki: Uint8Array, identifiers: readonly { type: string; value: string }[], overrides: MintOverrides = {}): Promise<string[]> {
    const now = (this.script.now ?? Date.now)();
    this.hierarchy ??= (async () => ({
      roots: [await createTestRoot("Root A", now), await createTestRoot("Root B", now)],
      intermediate: await generateKeyPair("ec256"),
    }))();
    const { roots, intermediate } = await this.hierarchy;
    const intermediateName = "Fake Intermediate";
    const leaf = await buildCertificate({
      subject: identifiers[0]?.value ?? "fake",
      spki: overrides.spki ?? spki,
      issuer: { name: intermediateName, keyPair: overrides.leafSignedBy ?? intermediate },
      dnsNames: overrides.dnsNames ?? identifiers.filter((identifier) => identifier.type === "dns").map((identifier) => identifier.value),
      ipAddresses: identifiers.filter((identifier) => identifier.type === "ip").map((identifier) => tryParseIp(identifier.value)!),
      notBefore: overrides.notBefore ?? new Date(now - 60_000),
      notAfter: overrides.notAfter ?? new Date(now + 7 * DAY),
      authorityKeyId: Uint8Array.of(0xfa, 0xce, 0xca),
    });
    return Promise.all(roots.map(async (root) => {
      const cross = await buildCertificate({
        subject: intermediateName, spki: await spkiOf(intermediate), issuer: root, notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY), ca: true,
      });
      return chainPem([leaf, cross]);
    }));
  }

  private orderBody(base: string, order: FakeOrder): unknown {
    const n = this.orders.indexOf(order);
    return {
      status: order.status,
      identifiers: order.identifiers,
      authorizations: order.authorizations,
      finalize: `${base}/finalize/${n}`,
      ...(order.status === "valid" ? { certificate: this.rewrite("certificate", `${base}/cert/${order.certificates?.[0] ?? 0}`) } : {}),
    };
  }

  private async verify(request: Request): Promise<{ payload: unknown; kid: string | undefined } | Response> {
    const jws = await request.json() as { protected: string; payload: string; signature: string };
    const header = JSON.parse(utf8Decode(decodeBase64Url(jws.protected))) as { alg: JwsAlgorithm; nonce: string; url: string; jwk?: JsonWebKey; kid?: string };
    if (!this.nonces.delete(header.nonce)) return this.problem("badNonce", `nonce ${header.nonce} was not issued or was used`);
    if (header.url !== request.url) return this.problem("unauthorized", `url ${header.url} is not the request URL ${request.url}`);
    const jwk = header.jwk ?? (header.kid ? this.accounts.get(header.kid) : undefined);
    if (!jwk) return this.problem("accountDoesNotExist", `no account ${header.kid}`);
    const algorithm = KEY_ALGORITHMS[header.alg];
    const key = await crypto.subtle.importKey("jwk", jwk, algorithm.importParams, false, ["verify"]);
    const signed = new TextEncoder().encode(`${jws.protected}.${jws.payload}`);
    if (!(await crypto.subtle.verify(algorithm.signParams, key, decodeBase64Url(jws.signature) as Uint8Array<ArrayBuffer>, signed))) {
      return this.problem("malformed", "the JWS signature does not verify");
    }
    if (header.jwk) this.accounts.set(`${new URL(request.url).origin}/account/${this.accounts.size}`, header.jwk);
    return { payload: jws.payload === "" ? undefined : JSON.parse(utf8Decode(decodeBase64Url(jws.payload))), kid: header.kid };
  }

  private rewrite(kind: "authorization" | "certificate" | "order", url: string): string {
    return this.script.rewriteUrl?.(kind, url) ?? url;
  }

  private nonceHeader(): Record<string, string> {
    const nonce = `fake${++this.nonceCounter}`;
    this.nonces.add(nonce);
    return { "replay-nonce": nonce, "cache-control": "no-store" };
  }

  private json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
    return Response.json(body, { status, headers: { ...headers, ...this.nonceHeader() } });
  }

  private problem(type: string, detail: string, status = 403): Response {
    return Response.json({ type: `urn:ietf:params:acme:error:${type}`, detail, status }, {
      status,
      headers: { "content-type": "application/problem+json", ...this.nonceHeader() },
    });
  }
}

/** A clock whose sleeps return at once and advance its time: hours of polling run in milliseconds. */
export function fakeClock(start = Date.UTC(2026, 0, 1)): { now(): number; sleep(ms: number, signal?: AbortSignal): Promise<void>; readonly elapsed: () => number } {
  let now = start;
  return {
    now: () => now,
    async sleep(ms, signal) {
      signal?.throwIfAborted();
      now += ms;
      await Promise.resolve();
      signal?.throwIfAborted();
    },
    elapsed: () => now - start,
  };
}
