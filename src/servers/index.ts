/**
 * The servers at the edge: the challenge responders started from one call, the HTTP(S) servers on
 * `Bun.serve`, and the tls-alpn-01 responder on `node:tls`.
 * @module
 */
export { certificateHandler, shutdownHandler } from "./handlers.ts";
export { startResponders, VALIDATION_PORTS, type Responders, type ResponderOptions } from "./responders.ts";
export { reservePort, serve, ServerStartError, type RunningServer, type ServeOptions } from "./serve.ts";
export { startTlsAlpnServer, type TlsAlpnServerOptions } from "./tls-alpn.ts";
export { HotTlsServer, isKeyChecked, markKeyChecked, tcpMigrateRequests, type HotTlsServerOptions, type ServedCertificate, type SwapMode } from "./hot-tls.ts";
export { IdleCollector, type IdleClock, type IdleCollectorOptions } from "./idle-collector.ts";
export { TcpRelay, type RelayRouter, type RelayTarget, type TcpRelayOptions } from "./tcp-relay.ts";
export { AlpnRouter, type AlpnRouterOptions } from "./alpn-router.ts";
export { clientHelloAlpn, type ClientHelloAlpn } from "./client-hello.ts";
export { withClientAddresses, type ClientLookup } from "./client-address.ts";
export { TlsFrontServer, type TlsFrontOptions } from "./tls-front.ts";
export { CertificateServerView, type SwappableCertificates } from "./server-view.ts";
export type { Probe } from "./proxy-forward.ts";
export { createReverseProxy, requestTarget, type ProxyConnection, type ProxyFetch, type ProxyLogEntry, type ProxySite, type ReverseProxy, type ReverseProxyOptions } from "./proxy.ts";
export { hostNameMatches, parseRequestHost, type RequestHost } from "./host.ts";
export { cidrMatcher } from "./cidr.ts";
export { createWebSocketProxy, isWebSocketUpgrade, type WebSocketProxy, type WebSocketProxyData } from "./proxy-websocket.ts";
