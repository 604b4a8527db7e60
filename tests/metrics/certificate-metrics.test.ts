import { describe, expect, test } from "bun:test";
import { AcmeConnectionError, AcmeProblemError } from "../../src/acme/index.ts";
import { adminHandler, CertificateMetrics, failureKind } from "../../src/metrics/index.ts";

const DAY = 86_400_000;
const start = Date.parse("2026-11-30T00:00:00Z");

function metricsAt(clock: { now: number }) {
  return new CertificateMetrics({ issuer: "https://ca.test/dir", swaps: () => 3, now: () => clock.now });
}

describe("CertificateMetrics", () => {
  test("per certificate: names, issuer, not-after, next renewal and the last outcome, from manage()'s events", () => {
    const clock = { now: start };
    const metrics = metricsAt(clock);
    const notAfter = new Date(start + 90 * DAY).toISOString();
    metrics.observe({ type: "obtained", lineage: "a.test", names: ["a.test", "www.a.test"], serial: "01", notAfter });
    metrics.observe({ type: "next_renewal", lineage: "a.test", names: ["a.test", "www.a.test"], at: new Date(start + 60 * DAY).toISOString() });
    const text = metrics.render();
    expect(text).toContain(`bun_acme_certificate_not_after_seconds{lineage="a.test",names="a.test,www.a.test",issuer="https://ca.test/dir"} ${(start + 90 * DAY) / 1000}\n`);
    expect(text).toContain(`bun_acme_certificate_next_renewal_seconds{lineage="a.test"} ${(start + 60 * DAY) / 1000}\n`);
    expect(text).toContain('bun_acme_certificate_last_renewal_success{lineage="a.test"} 1\n');
    expect(text).toContain(`bun_acme_certificate_last_renewal_seconds{lineage="a.test"} ${start / 1000}\n`);
    expect(text).toContain('bun_acme_orders_total{outcome="obtained"} 1\n');
    expect(text).toContain("bun_acme_certificate_swaps_total 3\n");
  });

  test("a certificate another CA issued (issuer fallback) is labelled with that CA; a warning naming a failed CA changes nothing", () => {
    const metrics = metricsAt({ now: start });
    const notAfter = new Date(start + 90 * DAY).toISOString();
    metrics.observe({ type: "renewed", lineage: "b.test", names: ["b.test"], notAfter, ca: "https://second.test/dir" });
    metrics.observe({ type: "warning", lineage: "b.test", names: ["b.test"], ca: "https://ca.test/dir" });
    expect(metrics.render()).toContain(`bun_acme_certificate_not_after_seconds{lineage="b.test",names="b.test",issuer="https://second.test/dir"} ${(start + 90 * DAY) / 1000}\n`);
  });

  test("failures count by the CA's problem type; the last outcome turns 0", () => {
    const metrics = metricsAt({ now: start });
    const problem = new AcmeProblemError({ type: "urn:ietf:params:acme:error:rateLimited", detail: "too many" }, 429, "https://ca.test/new-order");
    metrics.observe({ type: "renewal_failed", lineage: "a.test", names: ["a.test"], error: problem });
    metrics.observe({ type: "renewal_failed", lineage: "a.test", names: ["a.test"], error: problem });
    metrics.observe({ type: "renewal_failed", lineage: "a.test", names: ["a.test"], error: new Error("odd") });
    const text = metrics.render();
    expect(text).toContain('bun_acme_order_failures_total{type="other"} 1\nbun_acme_order_failures_total{type="rateLimited"} 2\n');
    expect(text).toContain('bun_acme_certificate_last_renewal_success{lineage="a.test"} 0\n');
  });

  test("failureKind(): the short ACME type, connection for an unreachable CA, else other", () => {
    expect(failureKind(new AcmeProblemError({ type: "urn:ietf:params:acme:error:unauthorized", detail: "no" }, 403, "https://ca/x"))).toBe("unauthorized");
    expect(failureKind(new AcmeConnectionError("https://ca/dir", "ECONNREFUSED"))).toBe("connection");
    expect(failureKind(undefined)).toBe("other");
  });

  test("proxied responses count by status; retain() forgets lineages no longer managed", () => {
    const metrics = metricsAt({ now: start });
    metrics.observeResponse(200);
    metrics.observeResponse(200);
    metrics.observeResponse(502);
    metrics.observe({ type: "obtained", lineage: "gone.test", names: ["gone.test"], notAfter: new Date(start + DAY).toISOString() });
    metrics.retain(["kept.test"]);
    const text = metrics.render();
    expect(text).toContain('bun_acme_proxied_responses_total{code="200"} 2\nbun_acme_proxied_responses_total{code="502"} 1\n');
    expect(text).not.toContain("gone.test");
  });
});

describe("adminHandler()", () => {
  test("/healthz: 200 while every certificate is further than the margin from expiry, 503 naming those that are not", async () => {
    const clock = { now: start };
    const metrics = metricsAt(clock);
    metrics.observe({ type: "obtained", lineage: "a.test", names: ["a.test"], notAfter: new Date(start + 10 * DAY).toISOString() });
    const handler = adminHandler(metrics, { healthMarginMs: 7 * DAY });
    const healthy = handler(new Request("http://admin/healthz"));
    expect(healthy.status).toBe(200);
    clock.now = start + 4 * DAY; // 6 days left
    const unhealthy = handler(new Request("http://admin/healthz"));
    expect(unhealthy.status).toBe(503);
    expect(await unhealthy.text()).toContain(`a.test: expires ${new Date(start + 10 * DAY).toISOString()}`);
  });

  test("/healthz: a managed certificate never obtained is unhealthy", async () => {
    const metrics = metricsAt({ now: start });
    metrics.observe({ type: "renewal_failed", lineage: "new.test", names: ["new.test"], error: new Error("CA down") });
    const answer = adminHandler(metrics)(new Request("http://admin/healthz"));
    expect(answer.status).toBe(503);
    expect(await answer.text()).toContain("new.test: no certificate yet");
  });

  test("/metrics is text/plain version 0.0.4; other paths 404; other methods 405", async () => {
    const handler = adminHandler(metricsAt({ now: start }));
    const answer = handler(new Request("http://admin/metrics"));
    expect(answer.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(await answer.text()).toContain("# TYPE bun_acme_orders_total counter");
    expect(handler(new Request("http://admin/")).status).toBe(404);
    expect(handler(new Request("http://admin/metrics", { method: "POST" })).status).toBe(405);
  });
});
