/**
 * The built-in HTTP(S) servers: certificate (HTTPS), shutdown, and the listener the http-01 solver uses.
 * @module
 */
export { certificateHandler, shutdownHandler } from "./handlers.ts";
export { serve, ServerStartError, type RunningServer, type ServeOptions } from "./serve.ts";
export { startTlsAlpnServer, type TlsAlpnServerOptions } from "./tls-alpn.ts";
