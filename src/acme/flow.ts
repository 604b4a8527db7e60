/**
 * The flow layer: order → authorizations (in parallel) → challenges → finalize → download.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1 (the overview of the whole exchange)
 */
import type { AcmeAccount } from "./account.ts";
import {
  deactivateAuthorization,
  downloadCertificate,
  finalizeOrder,
  getAuthorization,
  getOrder,
  newOrder,
  respondToChallenge,
  type Fetched,
} from "./endpoints.ts";
import { AcmeAuthorizationError, AcmeOrderError, AcmeProblemError } from "./errors.ts";
import { DEFAULT_INITIAL_DELAY_MS, pollUntil, sleep, type PollOptions } from "./poll.ts";
import type { AcmeTransport } from "./transport.ts";
import type { Authorization, Challenge, ChallengeType, Identifier, Order } from "./types.ts";

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
  /** How to poll; its `signal` is ignored in favour of {@link IssueOptions.signal}. */
  readonly poll?: Omit<PollOptions, "signal">;
  /**
   * Cancels the issuance (e.g. a deadline). Pending authorizations are then still deactivated,
   * through a sibling transport with a short deadline of its own.
   */
  readonly signal?: AbortSignal;
  /** Receives one line per step, for progress output. */
  readonly log?: (line: string) => void;
}

/** The result of an issuance. */
export interface IssuedCertificate {
  /** Leaf first, then the intermediates. */
  readonly pem: string;
  readonly orderUrl: string;
  readonly certificateUrl: string;
  /** Alternate chain URLs offered by the CA. */
  readonly alternates: readonly string[];
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
 * Obtains a certificate: creates the order, completes every authorization in parallel with the
 * solver, finalizes with the CSR and downloads the chain. When an authorization fails (or the
 * signal aborts), the others stop at once, those still pending are deactivated, and the first
 * failure is thrown.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4
 * @throws {AcmeAuthorizationError} when a challenge fails validation
 * @throws {AcmeOrderError} when the order becomes invalid
 * @throws {AcmeProblemError} when the CA refuses a request
 */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  const { transport, account, identifiers, log } = options;
  const order = await newOrder(transport, account, identifiers);
  log?.(`Order ${order.url}: ${order.body.status}, ${order.body.authorizations.length} authorization(s)`);

  // The first failure aborts the other authorizations: no point validating names of a dead order.
  const firstFailure = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, firstFailure.signal]) : firstFailure.signal;
  await Promise.allSettled(order.body.authorizations.map((url) =>
    completeAuthorization({ ...options, signal }, url).catch((error: unknown) => {
      if (!firstFailure.signal.aborted) firstFailure.abort(options.signal?.aborted ? options.signal.reason : error);
    })
  ));
  if (firstFailure.signal.aborted) {
    const cleanup = transport.withSignal(AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
    await deactivatePending(cleanup, account, order.body.authorizations, log);
    throw firstFailure.signal.reason;
  }

  const finalized = await finalize(options, order);
  const valid = await pollUntil(
    `order ${order.url} to be issued`,
    () => getOrder(transport, account, order.url),
    (body) => body.status !== "processing",
    { ...options.poll, signal: options.signal },
    finalized,
  );
  if (valid.body.status !== "valid" || !valid.body.certificate) throw new AcmeOrderError(order.url, valid.body.error);
  const download = await downloadCertificate(transport, account, valid.body.certificate);
  log?.(`Certificate ${valid.body.certificate} downloaded`);
  return { pem: download.pem, orderUrl: order.url, certificateUrl: valid.body.certificate, alternates: download.alternates };
}

/**
 * Finalizes at once: the order is usually `ready` as soon as its authorizations are valid. Should
 * the CA answer `orderNotReady`, waits for the order to leave `pending` and tries once more; this
 * saves the order fetch that a ready order does not need.
 */
async function finalize(options: IssueOptions, order: Fetched<Order>): Promise<Fetched<Order>> {
  const { transport, account } = options;
  try {
    return await finalizeOrder(transport, account, order, options.csr);
  } catch (error) {
    if (!(error instanceof AcmeProblemError) || error.shortType !== "orderNotReady") throw error;
  }
  const settled = await pollUntil(
    `order ${order.url} to become ready`,
    () => getOrder(transport, account, order.url),
    (body) => body.status !== "pending",
    { ...options.poll, signal: options.signal },
  );
  if (settled.body.status !== "ready") throw new AcmeOrderError(order.url, settled.body.error);
  return finalizeOrder(transport, account, settled, options.csr);
}

/**
 * Completes one authorization: picks the solver's challenge, presents it, tells the CA, polls
 * until the authorization is decided, and always cleans up.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5
 */
async function completeAuthorization(options: IssueOptions, url: string): Promise<void> {
  const { transport, account, solver, log } = options;
  const authorization = await getAuthorization(transport, account, url);
  const { identifier, status } = authorization.body;
  const name = authorization.body.wildcard ? `*.${identifier.value}` : identifier.value;
  if (status === "valid") {
    log?.(`Authorization for ${name} is already valid`);
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
  try {
    await untilAborted(solver.present(identifier, challenge, keyAuth), options.signal);
    options.signal?.throwIfAborted();
    if (challenge.status === "pending") {
      await respondToChallenge(transport, account, challenge.url);
      // The CA was only just asked: a poll at once would nearly always find it pending.
      await sleep(options.poll?.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS, options.signal);
    }
    const decided = await pollUntil(
      `authorization of ${name}`,
      () => getAuthorization(transport, account, url),
      (body) => body.status !== "pending",
      { ...options.poll, signal: options.signal },
    );
    if (decided.body.status !== "valid") {
      const failed = decided.body.challenges.find((candidate) => candidate.url === challenge.url);
      throw new AcmeAuthorizationError(
        identifier,
        solver.type,
        `the authorization became ${decided.body.status}`,
        failed?.error ?? firstChallengeError(decided.body),
      );
    }
    log?.(`Authorization for ${name} is valid (${solver.type})`);
  } finally {
    await solver.cleanup(identifier, challenge, keyAuth);
  }
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

function firstChallengeError(authorization: Authorization) {
  return authorization.challenges.find((challenge) => challenge.error)?.error;
}

/**
 * Deactivates every authorization of a failed order that is still pending, so that nothing is
 * left half-done at the CA. Best effort: failures here are logged, not thrown.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.2
 */
async function deactivatePending(transport: AcmeTransport, account: AcmeAccount, urls: readonly string[], log?: (line: string) => void): Promise<void> {
  await Promise.all(urls.map(async (url) => {
    try {
      const current = await getAuthorization(transport, account, url);
      if (current.body.status !== "pending") return;
      await deactivateAuthorization(transport, account, url);
      log?.(`Authorization ${url} deactivated`);
    } catch (error) {
      log?.(`Could not deactivate authorization ${url}: ${(error as Error).message}`);
    }
  }));
}
