/**
 * The flow layer: order → authorizations (in parallel) → challenges → finalize → download.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1 (the overview of the whole exchange)
 */
import type { CertificateInfo } from "../asn1/index.ts";
import type { AcmeAccount } from "./account.ts";
import { challengeFailed, challengeFailure, deactivatePending, explainInvalidOrder, firstChallengeError, watchPendingOrder } from "./authorizations.ts";
import { checkIssuedChain } from "./certificate-check.ts";
import { choosePreferredChain } from "./chains.ts";
import { systemClock, type Clock } from "./clock.ts";
import { downloadCertificate, finalizeOrder, getAuthorization, getOrder, newOrder, respondToChallenge, type NewOrderExtras } from "./endpoints.ts";
import { AcmeAuthorizationError, AcmeConnectionError, AcmeOrderError, AcmeProblemError } from "./errors.ts";
import { DEFAULT_INITIAL_DELAY_MS, pollUntil, type PollOptions } from "./poll.ts";
import type { AcmeTransport } from "./transport.ts";
import type { Challenge, ChallengeType, Fetched, Identifier, Order } from "./types.ts";

/** How long deactivating the authorizations of a failed or cancelled order may take. */
const CLEANUP_TIMEOUT_MS = 5_000;
/**
 * Makes one challenge type answerable: publishes the key authorization where the CA will look
 * (`present`) and removes it afterwards (`cleanup`).
 */
export interface ChallengeSolver {
  readonly type: ChallengeType;
  present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> | void;
  cleanup(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> | void;
}

/** Everything one issuance needs. */
export interface IssueOptions {
  readonly transport: AcmeTransport;
  readonly account: AcmeAccount;
  readonly identifiers: readonly Identifier[];
  readonly solver: ChallengeSolver;
  /** The DER PKCS#10 CSR naming exactly the identifiers. */
  readonly csr: Uint8Array;
  /** How to poll; `signal` and `onWait` are set by the flow. */
  readonly poll?: Omit<PollOptions, "signal" | "onWait">;
  /**
   * Cancels the issuance (e.g. a deadline). Pending authorizations are then still deactivated,
   * through a sibling transport with a short deadline of its own.
   */
  readonly signal?: AbortSignal;
  /**
   * Ends the deactivation of pending authorizations after a failure or cancellation (e.g. the
   * hard end of an overall deadline whose `signal` fired a little earlier). It takes at most 5 s
   * in any case.
   */
  readonly cleanupSignal?: AbortSignal;
  /**
   * The Common Name of the issuer of the topmost certificate of the chain wanted (e.g. a root the
   * clients trust). When the default chain does not match, the alternates (`Link: rel="alternate"`)
   * are fetched and the first matching one is taken; when none matches, the default is kept.
   */
  readonly preferredChain?: string;
  /** ARI certificate ID of the certificate this one replaces, and a profile; see {@link NewOrderExtras}. */
  readonly orderExtras?: NewOrderExtras;
  /** Receives one line per step, for progress output. */
  readonly log?: (line: string) => void;
  /** Time and waiting for polls (default: the system clock); tests inject a fake one. */
  readonly clock?: Clock;
}

/** The result of an issuance. */
export interface IssuedCertificate {
  /**
   * Leaf first, then the intermediates, re-encoded from what was checked: the leaf certifies the
   * CSR's key for exactly the identifiers, every certificate is valid now and signed by the next.
   */
  readonly pem: string;
  /** The leaf, read. */
  readonly leaf: CertificateInfo;
  readonly orderUrl: string;
  readonly certificateUrl: string;
  /** Alternate chain URLs offered by the CA. */
  readonly alternates: readonly string[];
  /**
   * Polls that found an authorization or the order still in progress: the requests beyond the
   * 6 + 3n the protocol needs for n names, all forced by the CA's processing time.
   */
  readonly waitingPolls: number;
}

/**
 * The key authorization for a challenge token: `token || "." || thumbprint`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.1
 */
export function keyAuthorization(token: string, accountThumbprint: string): string {
  return `${token}.${accountThumbprint}`;
}

/**
 * Obtains a certificate: creates the order, starts every authorization in parallel (fetch it,
 * present the solver's challenge, answer it), then polls the order, one request for all of them,
 * until the CA has decided; finalizes with the CSR and downloads the chain. When an authorization
 * fails (or the signal aborts), the others stop at once, those still pending are deactivated, and
 * the first failure is thrown.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4
 * @example
 * const identifiers = [{ type: "dns", value: "example.net" }] as const;
 * const { pem } = await issueCertificate({
 *   transport, account, identifiers, solver: responders.solver,
 *   csr: await createCsr({ identifiers, keyPair: await generateKeyPair("ec256") }),
 * });
 * @throws {AcmeAuthorizationError} when a challenge fails validation
 * @throws {AcmeOrderError} when the order becomes invalid
 * @throws {AcmeProblemError} when the CA refuses a request
 * @throws {AcmeCertificateError} when the certificate fails a check (see {@link checkIssuedChain})
 */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const { transport, account, identifiers, log } = options;
  const clock = options.clock ?? systemClock;
  let waitingPolls = 0;
  const poll = (signal: AbortSignal | undefined): PollOptions => ({ ...options.poll, signal, clock, onWait: () => waitingPolls++ });
  options.signal?.throwIfAborted(); // cancelled before it began: no order to clean up
  const order = await newOrder(transport, account, identifiers, options.orderExtras);
  log?.(`Order ${order.url}: ${order.body.status}, ${order.body.authorizations.length} authorization(s)`);
  if (order.body.status === "invalid") throw new AcmeOrderError(order.url, order.body.error);

  // The first failure aborts the other authorizations: no point validating names of a dead order.
  const firstFailure = new AbortController();
  const fail = (error: unknown) => {
    if (!firstFailure.signal.aborted) firstFailure.abort(options.signal?.aborted ? options.signal.reason : error);
  };
  const signal = options.signal ? AbortSignal.any([options.signal, firstFailure.signal]) : firstFailure.signal;
  const presented: Presented[] = [];
  const firstAnswered = Promise.withResolvers<void>();
  // An order that is already ready (every authorization reused) needs nothing started.
  const starts = Promise.allSettled(order.body.status !== "pending" ? [] : order.body.authorizations.map((url) =>
    startAuthorization({ ...options, signal }, url, presented, firstAnswered.resolve).catch((error: unknown) => {
      fail(error);
      throw error;
    })
  ));

  let ready = order;
  try {
    if (order.body.status === "pending") {
      // Poll once the first challenge is answered (so that a quick failure stops slow solvers),
      // after the short first wait: when every solver is fast, all challenges are answered by then.
      await Promise.race([firstAnswered.promise, starts]);
      signal.throwIfAborted();
      await clock.sleep(options.poll?.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS, signal);
      const decided = await pollUntil(
        `the authorizations of order ${order.url}`,
        watchPendingOrder(transport, account, options.solver.type, clock, order.url),
        (body) => body.status !== "pending",
        poll(signal),
      );
      if (decided.body.status === "invalid") throw await explainInvalidOrder(transport, account, options.solver.type, decided);
      ready = decided;
      log?.(`Order ${order.url}: ${decided.body.status}, every authorization valid (${options.solver.type})`);
    }
  } catch (error) {
    fail(error);
  } finally {
    await starts; // every start has settled (failed, aborted or answered) before cleanup
    await Promise.allSettled(presented.map(({ identifier, challenge, keyAuthorization }) => options.solver.cleanup(identifier, challenge, keyAuthorization)));
  }
  if (firstFailure.signal.aborted) {
    const limit = AbortSignal.timeout(CLEANUP_TIMEOUT_MS);
    const cleanup = transport.withSignal(options.cleanupSignal ? AbortSignal.any([limit, options.cleanupSignal]) : limit);
    await deactivatePending(cleanup, account, order.body.authorizations, log);
    throw firstFailure.signal.reason;
  }

  const finalized = await finalize(options, ready, poll(options.signal));
  const valid = await pollUntil(
    `order ${order.url} to be issued`,
    () => getOrder(transport, account, order.url),
    (body) => body.status !== "processing",
    poll(options.signal),
    finalized,
  );
  if (valid.body.status !== "valid" || !valid.body.certificate) throw new AcmeOrderError(order.url, valid.body.error);
  const download = await downloadCertificate(transport, account, valid.body.certificate);
  log?.(`Certificate ${valid.body.certificate} downloaded`);
  const chosen = options.preferredChain === undefined ? download.pem : await choosePreferredChain(transport, account, download, options.preferredChain, log);
  const checked = await checkIssuedChain(chosen, valid.body.certificate, { csr: options.csr, identifiers, now: clock.now() });
  return { pem: checked.pem, leaf: checked.certificates[0]!, orderUrl: order.url, certificateUrl: valid.body.certificate, alternates: download.alternates, waitingPolls };
}

/**
 * Finalizes at once: the order is usually `ready` as soon as its authorizations are valid. Should
 * the CA answer `orderNotReady`, waits for the order to leave `pending` and tries once more.
 */
async function finalize(options: IssueOptions, order: Fetched<Order>, poll: PollOptions): Promise<Fetched<Order>> {
  const { transport, account } = options;
  try {
    return await finalizeOrder(transport, account, order, options.csr);
  } catch (error) {
    if (!(error instanceof AcmeProblemError) || !error.is("orderNotReady")) throw error;
  }
  const settled = await pollUntil(
    `order ${order.url} to become ready`,
    () => getOrder(transport, account, order.url),
    (body) => body.status !== "pending",
    poll,
  );
  if (settled.body.status !== "ready") throw new AcmeOrderError(order.url, settled.body.error);
  return finalizeOrder(transport, account, settled, options.csr);
}

/** A challenge handed to the solver, to be cleaned up once the CA has decided. */
interface Presented {
  readonly identifier: Identifier;
  readonly challenge: Challenge;
  readonly keyAuthorization: string;
}

/**
 * Starts one authorization: fetches it, picks the solver's challenge, presents it and tells the
 * CA it is ready. Already valid authorizations need nothing.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5
 */
async function startAuthorization(options: IssueOptions, url: string, presented: Presented[], onAnswered: () => void): Promise<void> {
  const { transport, account, solver, log } = options;
  const authorization = await getAuthorization(transport, account, url);
  const { identifier, status } = authorization.body;
  if (status === "valid") {
    log?.(`Authorization for ${authorization.body.wildcard ? "*." : ""}${identifier.value} is already valid`);
    return;
  }
  if (status !== "pending") {
    throw new AcmeAuthorizationError(identifier, solver.type, `the authorization is ${status}`, firstChallengeError(authorization.body));
  }
  const challenge = authorization.body.challenges.find((candidate) => candidate.type === solver.type);
  if (!challenge) {
    const offered = authorization.body.challenges.map((candidate) => candidate.type).join(", ") || "none";
    throw new AcmeAuthorizationError(identifier, solver.type, `the CA offers no ${solver.type} challenge for it (offered: ${offered})`);
  }
  const keyAuth = keyAuthorization(challenge.token, account.thumbprint);
  presented.push({ identifier, challenge, keyAuthorization: keyAuth });
  await untilAborted(solver.present(identifier, challenge, keyAuth), options.signal);
  options.signal?.throwIfAborted();
  if (challengeFailed(challenge)) throw challengeFailure(identifier, solver.type, challenge);
  if (challenge.status === "pending") {
    // Some CAs validate while answering, and report the outcome in this very response.
    const answered = await respondToChallenge(transport, account, challenge.url).catch((error: unknown) => {
      // The CA got the POST and may still be validating: its outcome is read from the authorization.
      if (!(error instanceof AcmeConnectionError) || !error.mayHaveArrived) throw error;
      options.log?.(`${identifier.value}: the CA did not answer the ${solver.type} challenge POST (${error.message}); polling the authorization for its outcome`);
      return undefined;
    });
    if (answered && challengeFailed(answered.body)) throw challengeFailure(identifier, solver.type, answered.body);
  }
  onAnswered();
}

/** Waits for a solver's promise, or rejects as soon as the signal aborts. */
function untilAborted(work: Promise<void> | void, signal: AbortSignal | undefined): Promise<void> | void {
  if (!signal || !(work instanceof Promise)) return work;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
