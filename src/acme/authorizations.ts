/**
 * What the CA says about authorizations: failures it reports in an authorization or a challenge
 * (whatever the order says), the watch of an order that stays `pending`, and the deactivation of
 * what a failed order left pending.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5
 */
import type { Clock } from "./clock.ts";
import { deactivateAuthorization, getAuthorization, getOrder } from "./endpoints.ts";
import { AcmeAuthorizationError, AcmeOrderError } from "./errors.ts";
import type { AcmeSigner, AcmeTransport } from "./transport.ts";
import type { AcmeProblem, Authorization, Challenge, ChallengeType, Fetched, Identifier, Order } from "./types.ts";

/**
 * How long the order may stay `pending` after the challenges were answered before the
 * authorizations themselves are looked at (then again after twice as long, and so on). Some CAs
 * (acme2certifier, step-ca) leave the order `pending` when a challenge fails, and say so only
 * in the authorization or the challenge.
 */
export const AUTHORIZATION_CHECK_AFTER_MS = 1_000;

/**
 * The order poll of the authorization phase: fetches the order and, while it stays `pending`
 * past {@link AUTHORIZATION_CHECK_AFTER_MS} (then after twice as long, and so on), also the
 * authorizations not yet seen valid, failing at once with the CA's problem when one of them, or
 * its challenge, says validation failed. RFC 8555 §7.5.1 lets a client poll either the order or
 * the authorization; CAs differ in which one they update first.
 */
export function watchPendingOrder(
  transport: AcmeTransport,
  account: AcmeSigner,
  type: ChallengeType,
  clock: Clock,
  orderUrl: string,
): () => Promise<Fetched<Order>> {
  const started = clock.now();
  let nextCheck = started + AUTHORIZATION_CHECK_AFTER_MS;
  const valid = new Set<string>();
  return async () => {
    const current = await getOrder(transport, account, orderUrl);
    if (current.body.status !== "pending" || clock.now() < nextCheck) return current;
    nextCheck = clock.now() + Math.max(AUTHORIZATION_CHECK_AFTER_MS, 2 * (clock.now() - started));
    const unsettled = current.body.authorizations.filter((url) => !valid.has(url));
    const authorizations = await Promise.all(unsettled.map((url) => getAuthorization(transport, account, url)));
    for (const authorization of authorizations) {
      if (authorization.body.status === "valid") valid.add(authorization.url);
      const failure = authorizationFailure(authorization.body, type);
      if (failure) throw failure;
    }
    return current;
  };
}

/**
 * Finds out why an order became invalid: the first failed authorization and its challenge's
 * error, fetched only on this failure path.
 */
export async function explainInvalidOrder(transport: AcmeTransport, account: AcmeSigner, type: ChallengeType, order: Fetched<Order>): Promise<Error> {
  const authorizations = await Promise.all(order.body.authorizations.map((url) => getAuthorization(transport, account, url)));
  for (const authorization of authorizations) {
    const failure = authorizationFailure(authorization.body, type, order.body.error);
    if (failure) return failure;
  }
  return new AcmeOrderError(order.url, order.body.error);
}

/**
 * The failure an authorization reports, if any: the authorization is `invalid`, or the
 * challenge of our type is `invalid`, or it went back to `pending` with an error (step-ca's way
 * of saying validation failed and may be retried). A challenge still `processing` is being
 * retried by the CA, whatever error it shows, and is waited for. An invalid authorization with
 * no error of its own is explained by the order's error, when there is one.
 */
function authorizationFailure(authorization: Authorization, type: ChallengeType, orderError?: AcmeProblem): AcmeAuthorizationError | undefined {
  const challenge = authorization.challenges.find((candidate) => candidate.type === type);
  if (authorization.status === "invalid") {
    const problem = challenge?.error ?? firstChallengeError(authorization) ?? orderError;
    return new AcmeAuthorizationError(authorization.identifier, type, "the authorization became invalid", problem);
  }
  if (authorization.status === "pending" && challenge && challengeFailed(challenge)) return challengeFailure(authorization.identifier, type, challenge);
  return undefined;
}

/** `invalid`, or back to `pending` with an error; `processing` with an error is a CA retrying. */
export function challengeFailed(challenge: Challenge): boolean {
  return challenge.status === "invalid" || (challenge.status === "pending" && challenge.error !== undefined);
}

/** The error for a failed challenge, carrying the CA's problem document. */
export function challengeFailure(identifier: Identifier, type: ChallengeType, challenge: Challenge): AcmeAuthorizationError {
  return new AcmeAuthorizationError(identifier, type, `the ${type} challenge is ${challenge.status}`, challenge.error);
}

/** The first error any challenge of the authorization carries. */
export function firstChallengeError(authorization: Authorization): AcmeProblem | undefined {
  return authorization.challenges.find((challenge) => challenge.error)?.error;
}

/**
 * Deactivates every authorization of a failed order that is still pending, so that nothing is
 * left half-done at the CA. Best effort: failures here are logged, not thrown.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.2
 */
export async function deactivatePending(transport: AcmeTransport, account: AcmeSigner, urls: readonly string[], log?: (line: string) => void): Promise<void> {
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
