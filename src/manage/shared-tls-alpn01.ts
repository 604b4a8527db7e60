/**
 * tls-alpn-01 for manage(), alone or in a fleet. `Bun.serve` cannot negotiate ALPN, so the
 * validation certificates are served by a `node:tls` responder on a port of its own, to which a
 * load balancer routes the ClientHellos that offer `acme-tls/1` (HAProxy: `req.ssl_alpn`). In a
 * fleet the key authorization is published to the store, and whichever instance the balancer
 * picks builds the validation certificate from it.
 * @see https://www.rfc-editor.org/rfc/rfc8737
 */
import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { tlsAlpnCertificate, tlsAlpnServerName, type PemCertificate, type TlsAlpn01Solver } from "../challenges/index.ts";
import type { SharedChallenges } from "../store/index.ts";

/** Where a server name's answer is published among the shared challenge answers. */
const answerKey = (serverName: string) => `tls-alpn-01:${serverName.toLowerCase()}`;

/** tls-alpn-01 answered here, and published to the store (when there is one) for the other instances. */
export class SharedTlsAlpn01Solver implements ChallengeSolver {
  readonly type = "tls-alpn-01";
  private readonly local: TlsAlpn01Solver;
  private readonly shared: SharedChallenges | undefined;

  constructor(local: TlsAlpn01Solver, shared: SharedChallenges | undefined) {
    this.local = local;
    this.shared = shared;
  }

  async present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> {
    await this.local.present(identifier, challenge, keyAuthorization);
    // The key is the server name, used again by every order for it: a copy an earlier presenter left (one that crashed) must not be served.
    await this.shared?.withdraw(answerKey(tlsAlpnServerName(identifier)));
    await this.shared?.publish(answerKey(tlsAlpnServerName(identifier)), JSON.stringify({ identifier, keyAuthorization }), 10 * 60_000);
  }

  async cleanup(identifier: Identifier): Promise<void> {
    this.local.cleanup(identifier);
    await this.shared?.withdraw(answerKey(tlsAlpnServerName(identifier)));
  }
}

/**
 * The responder's lookup: this instance's validation certificate, else one built from the
 * answer another instance published (built once per key authorization, not per handshake).
 */
export function tlsAlpnLookup(local: TlsAlpn01Solver, shared: SharedChallenges | undefined): (serverName: string) => Promise<PemCertificate | undefined> {
  const built = new Map<string, { keyAuthorization: string; certificate: Promise<PemCertificate> }>();
  return async (serverName) => {
    const mine = local.certificateFor(serverName);
    if (mine || !shared) return mine;
    const name = serverName.toLowerCase();
    const answer = parseAnswer(await shared.answer(answerKey(name)).catch(() => undefined));
    if (!answer) {
      built.delete(name);
      return undefined;
    }
    const known = built.get(name);
    if (known?.keyAuthorization === answer.keyAuthorization) return known.certificate;
    const certificate = tlsAlpnCertificate(answer.identifier, answer.keyAuthorization);
    built.set(name, { keyAuthorization: answer.keyAuthorization, certificate });
    if (built.size > 1_000) built.delete(built.keys().next().value!);
    return certificate;
  };
}

/** A published answer, or undefined when it is absent or not what `present` wrote. */
function parseAnswer(text: string | undefined): { identifier: Identifier; keyAuthorization: string } | undefined {
  if (text === undefined) return undefined;
  try {
    const { identifier, keyAuthorization } = JSON.parse(text) as { identifier?: Partial<Identifier>; keyAuthorization?: unknown };
    const valid = typeof keyAuthorization === "string" && (identifier?.type === "dns" || identifier?.type === "ip") && typeof identifier.value === "string";
    return valid ? { identifier: identifier as Identifier, keyAuthorization: keyAuthorization as string } : undefined;
  } catch {
    return undefined;
  }
}
