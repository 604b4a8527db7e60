import type { ChallengeSolver, Challenge, Identifier } from "../acme/index.ts";

/** The path prefix the CA fetches. @see https://www.rfc-editor.org/rfc/rfc8555#section-8.3 */
export const HTTP01_PATH_PREFIX = "/.well-known/acme-challenge/";

/**
 * Solves http-01: keeps the key authorization of every presented token and answers the CA's
 * `GET /.well-known/acme-challenge/<token>` with it. The handler is a plain
 * `(Request) => Response`, served by any HTTP server.
 *
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.3
 * @example
 * const solver = new Http01Solver();
 * Bun.serve({ port: 5002, fetch: (request) => solver.handle(request) });
 */
export class Http01Solver implements ChallengeSolver {
  readonly type = "http-01";
  private readonly keyAuthorizations = new Map<string, string>();

  present(_identifier: Identifier, challenge: Challenge, keyAuthorization: string): void {
    this.keyAuthorizations.set(challenge.token, keyAuthorization);
  }

  cleanup(_identifier: Identifier, challenge: Challenge): void {
    this.keyAuthorizations.delete(challenge.token);
  }

  /**
   * Answers a challenge request: 200 with the key authorization for a known token, 404 for any
   * other path, 405 for methods other than GET and HEAD.
   */
  handle(request: Request): Response {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const { pathname } = requestUrl(request);
    if (!pathname.startsWith(HTTP01_PATH_PREFIX)) return new Response("Not Found\n", { status: 404 });
    const keyAuthorization = this.keyAuthorizations.get(pathname.slice(HTTP01_PATH_PREFIX.length));
    if (keyAuthorization === undefined) return new Response("Not Found\n", { status: 404 });
    return new Response(keyAuthorization, { headers: { "content-type": "application/octet-stream" } });
  }
}

/**
 * The URL of a request to one of our servers. An HTTP/1.0 request without `Host` reaches the
 * handler with only its path as `request.url`, which `new URL()` rejects: it is read against a
 * placeholder origin instead.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2 (request target)
 */
export function requestUrl(request: Request): URL {
  return new URL(request.url, "http://host.invalid");
}
