/**
 * The `ask` endpoint of on-demand certificates (Caddy's `on_demand_tls ask`): before a name is
 * ordered during its handshake, `GET ask?domain=NAME` must answer 2xx. Anything else (3xx, 4xx,
 * 5xx, no answer in time, a refused connection) refuses the name, so a stranger's SNI never
 * reaches the CA. Answers are remembered briefly: a scanner repeating a refused name costs the
 * endpoint one request per name and period, not one per handshake.
 */
import { systemClock, type Clock } from "../acme/index.ts";

/** Where to ask, and for how long answers hold. */
export interface AskEndpointOptions {
  /** An http:// or https:// URL; `domain=NAME` is added to its query. */
  readonly url: string;
  /** How long to wait for the answer (default 5 s); no answer in time refuses the name. */
  readonly timeoutMs?: number;
  /** How long an answer is remembered (default 60 s). */
  readonly cacheMs?: number;
  /** Default: the global `fetch`. */
  readonly fetch?: (request: Request) => Promise<Response>;
  readonly clock?: Pick<Clock, "now">;
}

const MAX_REMEMBERED = 10_000;

/**
 * An `allow` decision for `OnDemandOptions` that asks an HTTP endpoint, Caddy-style.
 *
 * @example
 * manage({ ..., onDemand: { allow: askEndpoint({ url: "http://127.0.0.1:9123/check" }) } });
 * @throws {TypeError} when `url` is not an http:// or https:// URL
 */
export function askEndpoint(options: AskEndpointOptions): (name: string) => Promise<boolean> {
  if (!/^https?:\/\//i.test(options.url) || !URL.canParse(options.url)) throw new TypeError(`Cannot ask "${options.url}": the on-demand ask endpoint must be an http:// or https:// URL`);
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const clock = options.clock ?? systemClock;
  const remembered = new Map<string, { readonly allowed: boolean; readonly until: number }>();
  const ask = async (name: string): Promise<boolean> => {
    const url = new URL(options.url);
    url.searchParams.set("domain", name);
    try {
      const response = await send(new Request(url.href, { redirect: "manual", signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) }));
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300;
    } catch {
      return false; // unreachable or too slow: refused, as Caddy does
    }
  };
  const inFlight = new Map<string, Promise<boolean>>();
  return (name) => {
    const now = clock.now();
    const known = remembered.get(name);
    if (known && known.until > now) return Promise.resolve(known.allowed);
    let answer = inFlight.get(name);
    if (!answer) {
      answer = ask(name).then((allowed) => {
        remembered.delete(name);
        if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
        remembered.set(name, { allowed, until: clock.now() + (options.cacheMs ?? 60_000) });
        return allowed;
      }).finally(() => inFlight.delete(name));
      inFlight.set(name, answer);
    }
    return answer;
  };
}
