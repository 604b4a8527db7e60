/**
 * The daemon's HTTPS handler: the library's reverse proxy over the configuration's sites (chosen by
 * SNI and Host), WebSocket upgrades included, reporting upstream failures or, with `access_log`,
 * every request.
 */
import type { UntimedEvent } from "../lifecycle/index.ts";
import { createReverseProxy, createWebSocketProxy, isWebSocketUpgrade, type ProxySite, type ReverseProxyOptions } from "../servers/index.ts";
import type { ServeConfig } from "./config.ts";
import type { DaemonHandler } from "./listeners.ts";

/** The proxy's sites: those listed with an upstream, then the on-demand ones (a `*` one, taking every other name, last). */
export function proxySites(config: ServeConfig): ProxySite[] {
  const listed = config.sites.flatMap((site) => site.upstream === undefined ? [] : [{ ...site, names: site.names.map((name) => name.value), upstream: site.upstream }]);
  const onDemand = (config.onDemand?.sites ?? []).map((site) => ({ ...site, names: site.patterns }))
    .toSorted((a, b) => Number(a.names.includes("*")) - Number(b.names.includes("*")));
  return [...listed, ...onDemand].map((site) => ({
    names: site.names,
    upstream: site.upstream,
    ...(site.connectTimeoutMs ? { connectTimeoutMs: site.connectTimeoutMs } : {}),
    ...(site.responseHeaderTimeoutMs ? { responseHeaderTimeoutMs: site.responseHeaderTimeoutMs } : {}),
    ...(site.maxRequests ? { maxRequests: site.maxRequests } : {}),
  }));
}

/**
 * The sites with an upstream, behind the library's reverse proxy (the site chosen by SNI and Host),
 * WebSocket upgrades included (RFC 6455, proxied to the same upstream).
 * Upstream failures are reported (the client's page names nothing internal); with `access_log`,
 * every request is, as one `request` event stamped by `now` (the daemon's clock).
 */
export function proxyTo(config: ServeConfig, say: (event: UntimedEvent) => void, now: () => number): DaemonHandler {
  const options: ReverseProxyOptions = {
    sites: proxySites(config),
    trustedProxies: config.trustedProxies,
    now,
    onRequest: (entry) => {
      if (config.accessLog) say({ type: "request", ...entry });
      else if (entry.error === "upstream_error" || entry.error === "unreachable" || entry.error === "timeout") {
        say({ type: "proxy_error", ...(entry.host ? { host: entry.host } : {}), status: entry.status, error: entry.error, ...(entry.detail ? { detail: entry.detail } : {}) });
      }
    },
  };
  const proxy = createReverseProxy(options);
  const sockets = createWebSocketProxy(options);
  return (request, server) => {
    const connection = { clientAddress: server.requestIP(request)?.address, tls: true };
    return isWebSocketUpgrade(request) ? sockets.upgrade(request, server, connection) : proxy(request, connection);
  };
}
