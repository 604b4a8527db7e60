/**
 * The daemon (`bun-acme serve`) as library code: a TOML configuration read into a typed
 * {@link ServeConfig} (errors name the file and the line), and {@link startDaemon}, which serves
 * it (the reverse proxy with automatic HTTPS, renewals, deploy hooks, metrics) and reloads it
 * without a failed request. The command line adds the file, the signals and the printed lines.
 * @module
 */
export { ConfigError, parseServeConfig, readServeConfig, type IssuerConfig, type OnDemandConfig, type OnDemandSiteConfig, type ServeConfig, type SiteConfig } from "./config.ts";
export { startDaemon, type DaemonOptions, type RunningDaemon } from "./start.ts";
