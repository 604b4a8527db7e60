/**
 * The transport layer: the directory, the nonce pool, signed POSTs and POST-as-GETs,
 * badNonce retries, and the mapping of HTTP failures to typed errors.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6
 */
import { concatBytes } from "../encoding/index.ts";
import { signJws, type PublicJwk } from "../jose/index.ts";
import { systemClock, type Clock } from "./clock.ts";
import { AcmeConnectionError, AcmeProblemError, AcmeProtocolError, AcmeTlsError } from "./errors.ts";
import { NoncePool } from "./nonce-pool.ts";
import { parseDirectory, parseProblem } from "./parse.ts";
import { findPreset } from "./presets.ts";
import { isProblemType } from "./problems.ts";
import type { Directory } from "./types.ts";

/** The fetch the transport uses; inject one to set TLS roots, proxies or counters. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** How to reach the CA. */
export interface AcmeTransportOptions {
  /** The directory URL, e.g. `https://acme-v02.api.letsencrypt.org/directory`, or a preset name such as `letsencrypt` (see `CA_PRESETS`). */
  readonly directoryUrl: string;
  /** Defaults to the global `fetch`. */
  readonly fetch?: FetchFunction;
  /**
   * PEM root certificate(s) that verify the CA's TLS certificate instead of the system's roots,
   * e.g. a test CA's (Bun's `fetch` `tls.ca`). Verification is never turned off. Ignored when
   * `fetch` is given.
   */
  readonly ca?: string | readonly string[];
  /** Time and waiting for backoff (default: the system clock); tests inject a fake one. */
  readonly clock?: Clock;
  /** Sent as `User-Agent`, which RFC 8555 §6.1 asks every client to send. */
  readonly userAgent?: string;
  /** How many times a request rejected with `badNonce` is sent again (default 20). */
  readonly maxBadNonceRetries?: number;
  /** Milliseconds one HTTP exchange, body included, may take (default 30 000). */
  readonly requestTimeoutMs?: number;
  /**
   * Milliseconds a challenge POST may take (default 90 000): longer than a CA that validates
   * before it answers (step-ca waits up to 30 s for the validation target) needs. A challenge POST
   * that may have arrived but got no answer is never sent again (that would start the validation
   * over): the caller polls the authorization instead.
   */
  readonly challengeTimeoutMs?: number;
  /**
   * Largest response body read, counted after decompression (default 4 MiB: a certificate chain
   * is a few KiB). Reading stops at the cap.
   */
  readonly maxResponseBytes?: number;
  /**
   * How many requests may be in flight before one that finds the nonce pool empty waits for a
   * returning nonce instead of sending `HEAD newNonce` (default 32).
   */
  readonly nonceLanes?: number;
  /** How transient failures are retried. */
  readonly retry?: RetryOptions;
  /** Aborts every request and wait at once, e.g. an overall deadline; its reason is thrown. */
  readonly signal?: AbortSignal;
}

/** How one POST is sent, when not as every other. */
export interface PostOptions {
  /** Its own time limit in milliseconds. */
  readonly requestTimeoutMs?: number;
  /**
   * Whether a POST that may have reached the CA but got no answer (a timeout, a connection reset
   * or closed mid-exchange) is sent again (default true); false for one whose effect the CA may
   * already be working on. A connection that was never made is tried again either way.
   */
  readonly resendUnanswered?: boolean;
}

/**
 * Retries of transient failures. TLS verification failures are never retried, and neither is
 * any 4xx other than 429.
 */
export interface RetryOptions {
  /** Retries after a refused, reset or timed-out connection (default 3). */
  readonly connectionRetries?: number;
  /** Retries after HTTP 429 or 5xx (default 4). */
  readonly serverRetries?: number;
  /** First backoff in milliseconds, doubled after each retry (default 250). */
  readonly baseDelayMs?: number;
  /** Cap of the backoff (default 8 000). */
  readonly maxDelayMs?: number;
  /**
   * Longest `Retry-After` waited for (default 60 000). A CA asking for longer (a rate limit that
   * lifts in hours) gets its error reported at once instead.
   */
  readonly maxRetryAfterMs?: number;
}

const DEFAULT_RETRY: Required<RetryOptions> = {
  connectionRetries: 3,
  serverRetries: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/** Who signs a request: the account key, with `kid` once the account exists, else with `jwk`. */
export interface AcmeSigner {
  readonly privateKey: CryptoKey;
  readonly jwk: PublicJwk;
  /** The account URL; when absent the JWS carries `jwk` (newAccount, revocation by certificate key). */
  readonly kid?: string;
}

/** One `Link` header entry. @see https://www.rfc-editor.org/rfc/rfc8288#section-3 */
export interface Link {
  readonly url: string;
  readonly rel: string;
}

/**
 * A response from the CA, body decoded (JSON when the content type says so, else text) but not
 * yet checked: the parsers in `parse.ts` turn it into typed values.
 */
export interface AcmeResponse {
  readonly url: string;
  readonly status: number;
  readonly headers: Headers;
  readonly body: unknown;
  readonly location: string | undefined;
  /** From `Retry-After`, in milliseconds from now. */
  readonly retryAfterMs: number | undefined;
  readonly links: readonly Link[];
}

const JOSE_CONTENT_TYPE = "application/jose+json";
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** A nonce is base64url. @see https://www.rfc-editor.org/rfc/rfc8555#section-6.5.1 */
const NONCE_SYNTAX = /^[A-Za-z0-9_-]+$/;
/** Error codes Bun's fetch gives when the peer's certificate does not verify. */
const TLS_ERROR_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "CERT_SIGNATURE_FAILURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "HOSTNAME_MISMATCH",
]);

/**
 * Talks to one ACME server. Keeps a pool of nonces fed by every `Replay-Nonce` header, so a
 * `HEAD newNonce` is sent only when the pool is empty.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.5
 * @example
 * const transport = new AcmeTransport({ directoryUrl: "letsencrypt-staging" });
 * const testCa = new AcmeTransport({ directoryUrl: "https://127.0.0.1:14000/dir", ca: await Bun.file("root.pem").text() });
 * @throws {TypeError} when `ca` holds no PEM certificate
 */
export class AcmeTransport {
  readonly directoryUrl: string;
  private readonly options: AcmeTransportOptions;
  private readonly fetchFunction: FetchFunction;
  private readonly userAgent: string;
  private readonly maxBadNonceRetries: number;
  private readonly requestTimeoutMs: number;
  /** See {@link AcmeTransportOptions.challengeTimeoutMs}. */
  readonly challengeTimeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly retry: Required<RetryOptions>;
  private readonly signal: AbortSignal | undefined;
  private readonly clock: Clock;
  /** Shared with every {@link withSignal} sibling. */
  private shared: { nonces: NoncePool; directory: Promise<Directory> | undefined; requestCount: number };

  constructor(options: AcmeTransportOptions) {
    this.options = options;
    this.shared = { nonces: new NoncePool(options.nonceLanes ?? 32), directory: undefined, requestCount: 0 };
    this.directoryUrl = findPreset(options.directoryUrl)?.directoryUrl ?? options.directoryUrl;
    this.fetchFunction = options.fetch ?? fetchTrusting(options.ca);
    this.userAgent = options.userAgent ?? "bun-acme";
    this.maxBadNonceRetries = options.maxBadNonceRetries ?? 20;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.challengeTimeoutMs = options.challengeTimeoutMs ?? 90_000;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.signal = options.signal;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Fetches the directory once and caches it.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.1
   * @throws {AcmeTlsError} when the CA's certificate is not trusted
   * @throws {AcmeProtocolError} when the document lacks a required URL
   */
  getDirectory(): Promise<Directory> {
    const { shared } = this;
    if (!shared.directory) {
      const loading = this.loadDirectory();
      shared.directory = loading;
      // Let a failed load be retried by a later call.
      loading.catch(() => {
        if (shared.directory === loading) shared.directory = undefined;
      });
    }
    return shared.directory;
  }

  /** HTTP requests sent to the CA so far, by this transport and its siblings (for diagnostics and benchmarks). */
  get requestCount(): number {
    return this.shared.requestCount;
  }

  /**
   * A transport to the same CA that shares this one's nonce pool, directory and request count,
   * but obeys another signal: e.g. to deactivate authorizations after the run's deadline passed.
   */
  withSignal(signal: AbortSignal | undefined): AcmeTransport {
    const sibling = new AcmeTransport({ ...this.options, signal });
    sibling.shared = this.shared;
    return sibling;
  }

  private async loadDirectory(): Promise<Directory> {
    const { response, body } = await this.exchange(this.directoryUrl, async () => ({ method: "GET" }));
    if (response.status !== 200) throw new AcmeProtocolError(`The directory ${this.directoryUrl} answered HTTP ${response.status}`);
    return parseDirectory(body, this.directoryUrl);
  }

  /**
   * Sends a signed POST whose payload is JSON-encoded; `undefined` sends a POST-as-GET.
   * A `badNonce` rejection is retried with the nonce from the error response; 429, 5xx and
   * connection failures are retried as {@link RetryOptions} says, each time with a fresh nonce.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.2
   * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.5
   * @throws {AcmeProblemError} with the CA's problem document for any 4xx/5xx with one
   */
  async post(url: string, payload: unknown, signer: AcmeSigner, accept?: string, options: PostOptions = {}): Promise<AcmeResponse> {
    const headers: Record<string, string> = { "content-type": JOSE_CONTENT_TYPE };
    if (accept) headers.accept = accept;
    const signedRequest = async (): Promise<RequestInit> => {
      const nonce = await this.takeNonce();
      const header = signer.kid ? { url, nonce, kid: signer.kid } : { url, nonce, jwk: signer.jwk };
      return { method: "POST", headers, body: JSON.stringify(await signJws(signer.privateKey, header, payload)) };
    };
    for (let attempt = 0;; attempt++) {
      const { response, body } = await this.exchange(url, signedRequest, false, options);
      if (response.status < 400) return toAcmeResponse(url, response, body, this.clock.now());
      const problem = parseProblem(body);
      if (!problem) throw new AcmeProtocolError(`The CA answered HTTP ${response.status} to ${url} without a problem document`);
      if (isProblemType(problem, "badNonce") && attempt < this.maxBadNonceRetries) continue;
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), this.clock.now());
      throw new AcmeProblemError(problem, response.status, url, retryAfterMs === undefined ? undefined : new Date(this.clock.now() + retryAfterMs));
    }
  }

  /**
   * An unauthenticated GET with the transport's retries, for the few resources RFC 8555 and its
   * extensions serve that way (e.g. renewalInfo, RFC 9773 §4.2). Any status is returned.
   */
  async get(url: string): Promise<AcmeResponse> {
    const { response, body } = await this.exchange(url, async () => ({ method: "GET" }));
    return toAcmeResponse(url, response, body, this.clock.now());
  }

  /**
   * Fetches a resource with POST-as-GET (a signed POST with an empty payload).
   *
   * @see https://www.rfc-editor.org/rfc/rfc8555#section-6.3
   */
  postAsGet(url: string, signer: AcmeSigner, accept?: string): Promise<AcmeResponse> {
    return this.post(url, undefined, signer, accept);
  }

  private async takeNonce(): Promise<string> {
    const pooled = await this.shared.nonces.take();
    if (pooled !== undefined) return pooled;
    let response: Response;
    const { newNonce } = await this.getDirectory().catch((error) => {
      this.shared.nonces.release();
      throw error;
    });
    try {
      ({ response } = await this.exchange(newNonce, async () => ({ method: "HEAD" }), true));
    } finally {
      this.shared.nonces.release();
    }
    const nonce = response.headers.get("replay-nonce");
    if (!nonce || !NONCE_SYNTAX.test(nonce)) {
      throw new AcmeProtocolError(`The CA's newNonce ${newNonce} answered HTTP ${response.status} without a Replay-Nonce`);
    }
    return nonce;
  }

  /**
   * One request with retries of transient failures: connection failures and timeouts with
   * exponential backoff, 429 and 5xx honouring `Retry-After` (seconds or HTTP-date) up to
   * `maxRetryAfterMs`. `makeInit` is called for every attempt, so that a POST is signed anew
   * with a fresh nonce. Returns the last response with its parsed body, whatever its status.
   */
  private async exchange(url: string, makeInit: () => Promise<RequestInit>, keepNonce = false, options: PostOptions = {}): Promise<{ response: Response; body: unknown }> {
    let connectionFailures = 0;
    let serverFailures = 0;
    for (;;) {
      let response: Response;
      let text: string;
      try {
        ({ response, text } = await this.send(url, await makeInit(), keepNonce, options.requestTimeoutMs ?? this.requestTimeoutMs));
      } catch (error) {
        if (!(error instanceof AcmeConnectionError) || connectionFailures >= this.retry.connectionRetries) throw error;
        if (error.mayHaveArrived && options.resendUnanswered === false) throw error;
        await this.clock.sleep(this.backoff(connectionFailures++), this.signal);
        continue;
      }
      const body = parseBody(response, text, url);
      if ((response.status === 429 || response.status >= 500) && serverFailures < this.retry.serverRetries) {
        const retryAfter = parseRetryAfter(response.headers.get("retry-after"), this.clock.now());
        const wait = retryAfter ?? this.backoff(serverFailures);
        if (wait <= this.retry.maxRetryAfterMs) {
          serverFailures++;
          await this.clock.sleep(wait, this.signal);
          continue;
        }
      }
      return { response, body };
    }
  }

  /** @throws {AcmeProtocolError} for a URL whose scheme is not the directory's */
  private checkScheme(url: string): void {
    const allowed = schemeOf(this.directoryUrl);
    if (allowed !== "https:" && allowed !== "http:") throw new AcmeProtocolError(`The directory URL ${this.directoryUrl} is not http(s)`);
    if (schemeOf(url) !== allowed) {
      throw new AcmeProtocolError(`Refusing to follow ${url} from the CA: only ${allowed.slice(0, -1)} URLs are followed, as the directory's`);
    }
  }

  private backoff(failures: number): number {
    return Math.min(this.retry.baseDelayMs * 2 ** failures, this.retry.maxDelayMs);
  }

  /**
   * One HTTP exchange: sets headers, maps network and TLS failures, and gives the response's
   * `Replay-Nonce` to the pool (unless `keepNonce`: the caller asked for a nonce for itself).
   */
  private async send(url: string, init: RequestInit, keepNonce: boolean, timeoutMs: number): Promise<{ response: Response; text: string }> {
    this.signal?.throwIfAborted();
    this.checkScheme(url);
    this.shared.requestCount++;
    // A nonce fetched for a caller travels outside the pool, on the lane take() reserved.
    const finish = keepNonce ? () => {} : this.shared.nonces.begin();
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
      response = await this.fetchFunction(url, {
        ...init,
        headers: { "user-agent": this.userAgent, ...(init.headers as Record<string, string> | undefined) },
        signal: this.signal ? AbortSignal.any([timeout, this.signal]) : timeout,
        redirect: "manual",
      });
    } catch (error) {
      finish(undefined);
      if (this.signal?.aborted) throw this.signal.reason;
      throw classifyFetchError(url, error, timeoutMs);
    }
    const nonce = response.headers.get("replay-nonce");
    finish(nonce && NONCE_SYNTAX.test(nonce) ? nonce : undefined);
    try {
      return { response, text: await readLimited(response, url, this.maxResponseBytes) };
    } catch (error) {
      if (error instanceof AcmeProtocolError) throw error;
      if (this.signal?.aborted) throw this.signal.reason;
      throw classifyFetchError(url, error, timeoutMs, "while reading the answer");
    }
  }
}

/**
 * The directory's scheme (`https:`, or `http:` where the caller allowed an insecure directory) is
 * the only one followed: a URL from the CA can never reach a file, a pipe or a downgraded channel.
 */
function schemeOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).protocol : undefined;
}

/** Connection failures that leave no doubt the request never reached the server (Bun's and the system's names). */
const NOT_CONNECTED_CODES = new Set(["ConnectionRefused", "ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "FailedToOpenSocket", "UnableToConnect"]);

function classifyFetchError(url: string, error: unknown, timeoutMs: number, during?: string): Error {
  const code = (error as { code?: unknown } | null)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  if (typeof code === "string" && TLS_ERROR_CODES.has(code)) return new AcmeTlsError(url, code, { cause: error });
  if (name === "TimeoutError") {
    const what = during ? "the answer did not complete" : "no answer";
    return new AcmeConnectionError(url, `${what} within ${timeoutMs / 1000} s`, { cause: error }, true);
  }
  const reason = typeof code === "string" ? code : error instanceof Error ? error.message : String(error);
  const neverSent = during === undefined && typeof code === "string" && NOT_CONNECTED_CODES.has(code);
  return new AcmeConnectionError(url, during ? `${reason} ${during}` : reason, { cause: error }, false, !neverSent);
}

/**
 * Reads a body as UTF-8 text, at most `limit` bytes after decompression: a larger body (a gzip
 * bomb, an endless stream) is cancelled at the cap.
 *
 * @throws {AcmeProtocolError} when the body passes the cap
 */
async function readLimited(response: Response, url: string, limit: number): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw new AcmeProtocolError(`The CA's answer from ${url} is larger than ${formatBytes(limit)}; stopped reading it there`);
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(concatBytes(...chunks));
}

function formatBytes(bytes: number): string {
  return bytes % 1_048_576 === 0 ? `${bytes / 1_048_576} MiB` : bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

function parseBody(response: Response, text: string, url: string): unknown {
  const contentType = response.headers.get("content-type") ?? "";
  if (!/json/i.test(contentType)) return text;
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new AcmeProtocolError(`The CA sent malformed JSON from ${url} (HTTP ${response.status})`);
  }
}

/** The global `fetch`, verifying the CA against the given roots when there are any. */
function fetchTrusting(ca: string | readonly string[] | undefined): FetchFunction {
  if (ca === undefined) return (url, init) => fetch(url, init);
  const roots = typeof ca === "string" ? ca : ca.join("\n");
  if (!roots.includes("-----BEGIN CERTIFICATE-----")) throw new TypeError("Cannot trust the CA roots: `ca` holds no PEM certificate");
  return (url, init) => fetch(url, { ...init, tls: { ca: roots } });
}

function toAcmeResponse(url: string, response: Response, body: unknown, now: number): AcmeResponse {
  const location = response.headers.get("location");
  if (location && !URL.canParse(location, url)) throw new AcmeProtocolError(`The CA sent a malformed Location header from ${url}: "${location}"`);
  return {
    url,
    status: response.status,
    headers: response.headers,
    body,
    location: location ? new URL(location, url).href : undefined,
    retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), now),
    links: parseLinks(response.headers.get("link"), url),
  };
}

/**
 * Parses `Retry-After` (delay-seconds or HTTP-date) into milliseconds from `now`; never negative.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 * @example parseRetryAfter("3", Date.now()) // 3000
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Parses a `Link` header into URL and `rel` pairs, URLs resolved against the request URL.
 * Several headers arrive joined by ", " (which URLs may also contain), so entries are split
 * only where a comma is followed by `<`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8288#section-3
 */
export function parseLinks(value: string | null, base: string): Link[] {
  if (!value) return [];
  const links: Link[] = [];
  for (const entry of value.split(/,\s*(?=<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(entry);
    if (!match || !URL.canParse(match[1]!, base)) continue; // a malformed entry is no link
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(match[2]!);
    if (!rel) continue;
    for (const relation of rel[1]!.trim().split(/\s+/)) links.push({ url: new URL(match[1]!, base).href, rel: relation });
  }
  return links;
}
