import { exportPublicJwk, jwkThumbprint } from "../jose/index.ts";
import { newAccount, type NewAccountRequest } from "./endpoints.ts";
import type { AcmeSigner, AcmeTransport } from "./transport.ts";
import type { Account } from "./types.ts";

/** An account the client can sign with: key, public JWK, URL (`kid`) and RFC 7638 thumbprint. */
export interface AcmeAccount extends AcmeSigner {
  readonly kid: string;
  /** The account key's thumbprint: the second half of every key authorization. */
  readonly thumbprint: string;
  readonly account: Account;
}

/**
 * Registers the key pair as an account (or finds the existing one) and returns a signer with `kid`.
 * Agreement to the terms of service is the caller's to give.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 * @throws {AcmeProblemError} with the CA's problem when it refuses
 */
export async function registerAccount(
  transport: AcmeTransport,
  keyPair: CryptoKeyPair,
  request: NewAccountRequest = { termsOfServiceAgreed: true },
): Promise<AcmeAccount> {
  const jwk = await exportPublicJwk(keyPair.publicKey);
  const [created, thumbprint] = await Promise.all([
    newAccount(transport, { privateKey: keyPair.privateKey, jwk }, request),
    jwkThumbprint(jwk),
  ]);
  return { privateKey: keyPair.privateKey, jwk, kid: created.url, thumbprint, account: created.body };
}
