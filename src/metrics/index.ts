/**
 * Metrics and health of managed certificates: Prometheus' text format, fed by manage()'s events,
 * and the admin handler serving `/metrics` and `/healthz`.
 * @module
 */
export { adminHandler, type AdminOptions } from "./admin.ts";
export { CertificateMetrics, failureKind, type ExpiryProblem, type MetricsEvent } from "./certificate-metrics.ts";
export { escapeLabelValue, renderExposition, type MetricFamily, type Sample } from "./exposition.ts";
