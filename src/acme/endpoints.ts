/**
 * The endpoint layer: one function per RFC 8555 resource, each checking the response it gets
 * and returning typed objects. No flow logic lives here.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7
 */
import { encodeBase64Url } from "../encoding/index.ts";
import { signJws, type FlattenedJws, type PublicJwk } from "../jose/index.ts";
import { AcmeError, AcmeProtocolError } from "./errors.ts";
import { parseAccount, parseAuthorization, parseChallenge, parseOrder } from "./parse.ts";
import type { AcmeResponse, AcmeSigner, AcmeTransport, Link } from "./transport.ts";
import type { Account, Authorization, Challenge, Directory, Fetched, Identifier, Order } from "./types.ts";

/** What to send in newAccount. @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3 */
export interface NewAccountRequest {
  readonly termsOfServiceAgreed?: boolean;
  readonly contact?: readonly string[];
  readonly onlyReturnExisting?: boolean;
  /** The EAB JWS, RFC 8555 §7.3.4. */
  readonly externalAccountBinding?: FlattenedJws;
}

/**
 * Creates an account (or finds the existing one for this key). The JWS carries `jwk`; the
 * account URL comes back in `Location` and becomes the `kid` of every later request.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 * @throws {AcmeProblemError} e.g. `accountDoesNotExist`, `externalAccountRequired`
 */
export async function newAccount(transport: AcmeTransport, signer: AcmeSigner, request: NewAccountRequest): Promise<Fetched<Account>> {
  const { newAccount: url } = await transport.getDirectory();
  const response = await transport.post(url, request, { privateKey: signer.privateKey, jwk: signer.jwk });
  const location = requireLocation(response, "newAccount");
  return { url: location, body: parseAccount(response.body, location), retryAfterMs: response.retryAfterMs };
}

/** Optional newOrder fields from ACME extensions. */
export interface NewOrderExtras {
  /** The ARI certificate ID of the certificate this order replaces (RFC 9773 §5). Sent only when the CA offers renewalInfo. */
  readonly replaces?: string;
  /** A profile the CA lists in `meta.profiles` (draft-ietf-acme-profiles). */
  readonly profile?: string;
}

/** The CA does not offer the certificate profile asked for. */
export class AcmeProfileError extends AcmeError {
  readonly profile: string;
  readonly offered: readonly string[];
  constructor(profile: string, offered: readonly string[]) {
    super(
      "ERR_ACME_PROFILE",
      `The CA offers no certificate profile "${profile}" (${offered.length ? `it offers: ${offered.join(", ")}` : "it lists no profiles"})`,
    );
    this.profile = profile;
    this.offered = offered;
  }
}

/**
 * Creates an order for the identifiers, optionally naming the certificate it replaces (ARI) and
 * a profile.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4
 * @see https://www.rfc-editor.org/rfc/rfc9773#section-5
 * @throws {AcmeProfileError} when the directory does not list the profile
 * @throws {AcmeProblemError} e.g. `rejectedIdentifier`, `unsupportedIdentifier`
 */
export async function newOrder(
  transport: AcmeTransport,
  account: AcmeSigner,
  identifiers: readonly Identifier[],
  extras: NewOrderExtras = {},
): Promise<Fetched<Order>> {
  const directory = await transport.getDirectory();
  const payload: Record<string, unknown> = { identifiers };
  if (extras.replaces && directory.renewalInfo) payload.replaces = extras.replaces;
  if (extras.profile !== undefined) {
    const offered = Object.keys(directory.meta?.profiles ?? {});
    if (!offered.includes(extras.profile)) throw new AcmeProfileError(extras.profile, offered);
    payload.profile = extras.profile;
  }
  const response = await transport.post(directory.newOrder, payload, account);
  const location = requireLocation(response, "newOrder");
  return { url: location, body: parseOrder(response.body, location), retryAfterMs: response.retryAfterMs };
}

/**
 * Fetches an order (POST-as-GET).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.1.3
 */
export async function getOrder(transport: AcmeTransport, account: AcmeSigner, url: string): Promise<Fetched<Order>> {
  const response = await transport.postAsGet(url, account);
  return { url, body: parseOrder(response.body, url), retryAfterMs: response.retryAfterMs };
}

/**
 * Fetches an authorization (POST-as-GET).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5
 */
export async function getAuthorization(transport: AcmeTransport, account: AcmeSigner, url: string): Promise<Fetched<Authorization>> {
  const response = await transport.postAsGet(url, account);
  return { url, body: parseAuthorization(response.body, url), retryAfterMs: response.retryAfterMs };
}

/**
 * Tells the CA a challenge is ready to be validated, by POSTing `{}` to it. Some CAs validate
 * before they answer (step-ca): the POST gets the transport's longer challenge time limit, and
 * one that may have arrived but got no answer (timed out, or the connection was cut) is not sent
 * again (that would start the validation over).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.1
 * @throws {AcmeConnectionError} with `mayHaveArrived` when no answer came: poll the authorization
 */
export async function respondToChallenge(transport: AcmeTransport, account: AcmeSigner, url: string): Promise<Fetched<Challenge>> {
  const response = await transport.post(url, {}, account, undefined, { requestTimeoutMs: transport.challengeTimeoutMs, resendUnanswered: false });
  return { url, body: parseChallenge(response.body, url), retryAfterMs: response.retryAfterMs };
}

/**
 * Deactivates an authorization, so that a failed or abandoned order leaves nothing pending.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.5.2
 */
export async function deactivateAuthorization(transport: AcmeTransport, account: AcmeSigner, url: string): Promise<Fetched<Authorization>> {
  const response = await transport.post(url, { status: "deactivated" }, account);
  return { url, body: parseAuthorization(response.body, url), retryAfterMs: response.retryAfterMs };
}

/**
 * Finalizes an order with a DER CSR.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4
 * @throws {AcmeProblemError} e.g. `badCSR`, `orderNotReady`
 */
export async function finalizeOrder(
  transport: AcmeTransport,
  account: AcmeSigner,
  order: Fetched<Order>,
  csrDer: Uint8Array,
): Promise<Fetched<Order>> {
  const response = await transport.post(order.body.finalize, { csr: encodeBase64Url(csrDer) }, account);
  return { url: order.url, body: parseOrder(response.body, order.url), retryAfterMs: response.retryAfterMs };
}

/** A downloaded certificate chain and the alternates the CA offers. */
export interface CertificateDownload {
  /** The PEM chain: leaf first, then the intermediates. */
  readonly pem: string;
  /** URLs of alternate chains (`Link: rel="alternate"`), RFC 8555 §7.4.2. */
  readonly alternates: readonly string[];
  readonly links: readonly Link[];
}

/**
 * Downloads a certificate chain as `application/pem-certificate-chain`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.4.2
 * @throws {AcmeProtocolError} when the body holds no certificate
 */
export async function downloadCertificate(transport: AcmeTransport, account: AcmeSigner, url: string): Promise<CertificateDownload> {
  const response = await transport.postAsGet(url, account, "application/pem-certificate-chain");
  if (typeof response.body !== "string" || !response.body.includes("-----BEGIN CERTIFICATE-----")) {
    throw new AcmeProtocolError(`The certificate at ${url} is not a PEM chain`);
  }
  return {
    pem: response.body as string,
    alternates: response.links.filter((link) => link.rel === "alternate").map((link) => link.url),
    links: response.links,
  };
}

/**
 * Revokes a certificate. Signed by the account (`kid`) or by the certificate's own key (`jwk`).
 * `reason` is an RFC 5280 CRLReason code.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.6
 * @throws {AcmeProblemError} e.g. `alreadyRevoked`, `unauthorized`, `badRevocationReason`
 */
export async function revokeCertificate(
  transport: AcmeTransport,
  signer: AcmeSigner,
  certificateDer: Uint8Array,
  reason?: number,
): Promise<void> {
  const url = directoryUrl(await transport.getDirectory(), "revokeCert", transport.directoryUrl);
  const payload = reason === undefined ? { certificate: encodeBase64Url(certificateDer) } : { certificate: encodeBase64Url(certificateDer), reason };
  await transport.post(url, payload, signer);
}

/** A URL RFC 8555 requires in the directory, checked when it is first needed. */
function directoryUrl(directory: Directory, key: "revokeCert" | "keyChange", url: string): string {
  const value = directory[key];
  if (value === undefined) throw new AcmeProtocolError(`The directory ${url} has no "${key}" URL`);
  return value;
}

function requireLocation(response: AcmeResponse, endpoint: string): string {
  if (!response.location) throw new AcmeProtocolError(`The CA's ${endpoint} response (${response.url}) has no Location header`);
  return response.location;
}

/**
 * Updates an account's contact addresses.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.2
 */
export async function updateAccount(transport: AcmeTransport, account: AcmeSigner & { kid: string }, update: { readonly contact: readonly string[] }): Promise<Account> {
  return parseAccount((await transport.post(account.kid, update, account)).body, account.kid);
}

/**
 * Fetches an account object (POST-as-GET to the account URL).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.3
 */
export async function getAccount(transport: AcmeTransport, account: AcmeSigner & { kid: string }): Promise<Account> {
  return parseAccount((await transport.postAsGet(account.kid, account)).body, account.kid);
}

/**
 * Deactivates an account for good: the CA then refuses every request it signs.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.6
 */
export async function deactivateAccount(transport: AcmeTransport, account: AcmeSigner & { kid: string }): Promise<Account> {
  return parseAccount((await transport.post(account.kid, { status: "deactivated" }, account)).body, account.kid);
}

/**
 * Rolls the account over to a new key: an inner JWS signed by the new key (with `jwk`, no nonce)
 * carries `{ account, oldKey }`, and the outer JWS is signed by the old key.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.5
 * @throws {AcmeProblemError} e.g. `conflict` when the new key already belongs to an account
 */
export async function changeAccountKey(
  transport: AcmeTransport,
  account: AcmeSigner & { kid: string },
  newKey: { readonly privateKey: CryptoKey; readonly jwk: PublicJwk },
): Promise<void> {
  const url = directoryUrl(await transport.getDirectory(), "keyChange", transport.directoryUrl);
  const inner = await signJws(newKey.privateKey, { url, jwk: newKey.jwk }, { account: account.kid, oldKey: account.jwk });
  await transport.post(url, inner, account);
}
