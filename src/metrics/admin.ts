/**
 * The admin endpoints: `/metrics` (Prometheus' text format) and `/healthz` (200 while every
 * certificate is further than the margin from its expiry, else 503 naming those that are not).
 * A handler, `Request → Response`, for any server.
 */
import type { CertificateMetrics } from "./certificate-metrics.ts";

/** Options of {@link adminHandler}. */
export interface AdminOptions {
  /** `/healthz` fails when a certificate expires sooner than this (default 7 days). */
  readonly healthMarginMs?: number;
}

/**
 * The handler of the admin address (`/metrics`, `/healthz`); every other path is 404.
 *
 * @example
 * const metrics = new CertificateMetrics({ issuer: directoryUrl });
 * const managed = await manage({ ...options, onEvent: (event) => metrics.observe(event) });
 * Bun.serve({ hostname: "127.0.0.1", port: 9443, fetch: adminHandler(metrics) });
 */
export function adminHandler(metrics: CertificateMetrics, options: AdminOptions = {}): (request: Request) => Response {
  const margin = options.healthMarginMs ?? 7 * 86_400_000;
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
    if (path === "/healthz") {
      const problems = metrics.expiring(margin);
      if (problems.length === 0) return new Response("ok\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
      const lines = problems.map((problem) => `${problem.lineage}: ${problem.notAfter ? `expires ${problem.notAfter}` : "no certificate yet"}`);
      return new Response(`unhealthy: ${problems.length} certificate(s) within ${Math.round(margin / 1000)} s of expiry\n${lines.join("\n")}\n`, {
        status: 503, headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    return new Response("Not Found\n", { status: 404 });
  };
}
