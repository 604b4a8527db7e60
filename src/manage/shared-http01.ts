/**
 * http-01 in a fleet: the answer is kept here and published to the shared store, and the HTTP
 * server answers from the store what this instance does not hold (the load balancer may send the
 * CA's request to any instance).
 */
import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { HTTP01_PATH_PREFIX, type Http01Solver } from "../challenges/index.ts";
import { parseRequestHost, requestTarget } from "../servers/index.ts";
import type { SharedChallenges } from "../store/index.ts";

/**
 * http-01 answers (this instance's, else the fleet's from the store); every other request for a
 * served name (`serves`) is redirected to the same target over HTTPS. A malformed Host gets 400
 * and a name not served 421, so the port redirects nowhere a client did not come from.
 */
export function redirectingHandler(solver: Http01Solver, shared: SharedChallenges | undefined, httpsPort: number, serves: (name: string) => boolean | Promise<boolean>): (request: Request) => Response | Promise<Response> {
  return async (request) => {
    const answer = solver.handle(request);
    if (answer.status !== 404 || !request.headers.get("host")) return answer;
    const target = requestTarget(request.url);
    if (target.startsWith(HTTP01_PATH_PREFIX)) {
      const token = target.slice(HTTP01_PATH_PREFIX.length).replace(/[?#].*$/s, "");
      const published = shared && request.method === "GET" && isChallengeToken(token) ? await shared.answer(token).catch(() => undefined) : undefined;
      return published === undefined ? answer : new Response(published, { headers: { "content-type": "application/octet-stream" } });
    }
    const host = parseRequestHost(request.headers.get("host"));
    if (!host) return new Response("Bad Request: the Host header is missing or malformed\n", { status: 400 });
    if (!(await serves(host.name))) return new Response("Misdirected Request: no site here for this name\n", { status: 421 });
    return Response.redirect(`https://${host.name}${httpsPort === 443 ? "" : `:${httpsPort}`}${target}`, 308);
  };
}

/**
 * Whether `token` can be an ACME challenge token: base64url, at least 128 bits (22 characters),
 * and not absurdly long. Anything else is answered 404 here without asking the store, so that
 * made-up paths from the Internet cost the fleet nothing.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.3
 */
function isChallengeToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{22,256}$/.test(token);
}

/** How long a published http-01 answer is kept: long enough for a CA that validates late. */
const ANSWER_TTL_MS = 10 * 60_000;

/** http-01 for a fleet: answered here, and published to the store for the other instances. */
export class SharedHttp01Solver implements ChallengeSolver {
  readonly type = "http-01";
  private readonly local: Http01Solver;
  private readonly shared: SharedChallenges;

  constructor(local: Http01Solver, shared: SharedChallenges) {
    this.local = local;
    this.shared = shared;
  }

  async present(identifier: Identifier, challenge: Challenge, keyAuthorization: string): Promise<void> {
    this.local.present(identifier, challenge, keyAuthorization);
    await this.shared.publish(challenge.token, keyAuthorization, ANSWER_TTL_MS);
  }

  /**
   * Withdraws the answer here only: the published copy expires on its own (its token is never
   * used again, and the key authorization it holds is what any request for it was shown), which
   * saves the fleet one store command per certificate.
   */
  async cleanup(identifier: Identifier, challenge: Challenge): Promise<void> {
    this.local.cleanup(identifier, challenge);
  }
}
