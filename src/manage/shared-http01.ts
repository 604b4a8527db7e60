/**
 * http-01 in a fleet: the answer is kept here and published to the shared store, and the HTTP
 * server answers from the store what this instance does not hold (the load balancer may send the
 * CA's request to any instance).
 */
import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { HTTP01_PATH_PREFIX, type Http01Solver } from "../challenges/index.ts";
import type { SharedChallenges } from "../store/index.ts";

/**
 * http-01 answers (this instance's, else the fleet's from the store); everything else is
 * redirected to the same path over HTTPS.
 */
export function redirectingHandler(solver: Http01Solver, shared: SharedChallenges | undefined, httpsPort: number): (request: Request) => Response | Promise<Response> {
  return async (request) => {
    const answer = solver.handle(request);
    if (answer.status !== 404 || !request.headers.get("host")) return answer;
    const url = new URL(request.url, `http://${request.headers.get("host")}`);
    if (url.pathname.startsWith(HTTP01_PATH_PREFIX)) {
      const published = shared && request.method === "GET" ? await shared.answer(url.pathname.slice(HTTP01_PATH_PREFIX.length)).catch(() => undefined) : undefined;
      return published === undefined ? answer : new Response(published, { headers: { "content-type": "application/octet-stream" } });
    }
    url.protocol = "https:";
    url.port = httpsPort === 443 ? "" : String(httpsPort);
    return Response.redirect(url.href, 308);
  };
}

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
    await this.shared.publish(challenge.token, keyAuthorization, 10 * 60_000);
  }

  async cleanup(identifier: Identifier, challenge: Challenge): Promise<void> {
    this.local.cleanup(identifier, challenge);
    await this.shared.withdraw(challenge.token);
  }
}
