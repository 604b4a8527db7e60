/**
 * Accounts: registration (with External Account Binding), lookup by key, key rollover.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 */
import { decodeBase64Url } from "../encoding/index.ts";
import { exportPublicJwk, jwkThumbprint, signHmacJws } from "../jose/index.ts";
import { changeAccountKey, newAccount, type NewAccountRequest } from "./endpoints.ts";
import type { AcmeSigner, AcmeTransport } from "./transport.ts";
import type { Account } from "./types.ts";

/** An account the client can sign with: key, public JWK, URL (`kid`) and RFC 7638 thumbprint. */
export interface AcmeAccount extends AcmeSigner {
  readonly kid: string;
  /** The account key's thumbprint: the second half of every key authorization. */
  readonly thumbprint: string;
  readonly account: Account;
}

/** External Account Binding credentials, as a CA such as ZeroSSL or Google Trust Services hands them out. */
export interface ExternalAccountBinding {
  /** The key identifier the CA gave. */
  readonly kid: string;
  /** The MAC key the CA gave, base64url-encoded (the usual form), or its bytes. */
  readonly hmacKey: string | Uint8Array;
}

/**
 * Registers the key pair as an account (or finds the existing one) and returns a signer with `kid`.
 * Agreement to the terms of service is the caller's to give. With `eab`, the request carries an
 * External Account Binding: the CA's MAC key signs the account's public key.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.4
 * @example const account = await registerAccount(transport, await generateKeyPair("ec256"), { termsOfServiceAgreed: true, contact: ["mailto:admin@example.net"] });
 * @throws {AcmeProblemError} with the CA's problem when it refuses (e.g. `externalAccountRequired`, `unauthorized`)
 * @throws {SyntaxError} when the EAB MAC key is not base64url
 */
export async function registerAccount(
  transport: AcmeTransport,
  keyPair: CryptoKeyPair,
  request: NewAccountRequest = { termsOfServiceAgreed: true },
  eab?: ExternalAccountBinding,
): Promise<AcmeAccount> {
  const jwk = await exportPublicJwk(keyPair.publicKey);
  let fullRequest = request;
  if (eab) {
    const { newAccount: url } = await transport.getDirectory();
    const macKey = typeof eab.hmacKey === "string" ? decodeBase64Url(eab.hmacKey) : eab.hmacKey;
    fullRequest = { ...request, externalAccountBinding: await signHmacJws(macKey, { kid: eab.kid, url }, jwk) };
  }
  const [created, thumbprint] = await Promise.all([
    newAccount(transport, { privateKey: keyPair.privateKey, jwk }, fullRequest),
    jwkThumbprint(jwk),
  ]);
  return { privateKey: keyPair.privateKey, jwk, kid: created.url, thumbprint, account: created.body };
}

/**
 * Finds the existing account for a key pair without creating one (`onlyReturnExisting`).
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.1
 * @throws {AcmeProblemError} `accountDoesNotExist` when the CA knows no account for this key
 */
export async function findAccount(transport: AcmeTransport, keyPair: CryptoKeyPair): Promise<AcmeAccount> {
  return registerAccount(transport, keyPair, { onlyReturnExisting: true });
}

/**
 * Replaces the account's key with a new key pair (keyChange) and returns the account as the new
 * key signs it: same URL, new thumbprint.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.5
 */
export async function rollAccountKey(transport: AcmeTransport, account: AcmeAccount, newKeyPair: CryptoKeyPair): Promise<AcmeAccount> {
  const jwk = await exportPublicJwk(newKeyPair.publicKey);
  await changeAccountKey(transport, account, { privateKey: newKeyPair.privateKey, jwk });
  return { ...account, privateKey: newKeyPair.privateKey, jwk, thumbprint: await jwkThumbprint(jwk) };
}
