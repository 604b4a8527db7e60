/**
 * A shared store that cannot be reached (down, restarting, a network between): a typed error, and
 * how each built-in client's connection failures are told apart from answers.
 */
import { StoreError } from "./lineage.ts";
import { maskSecrets } from "./secrets.ts";

/** The store's server could not be reached; what is stored there is untouched. */
export class StoreUnavailableError extends StoreError {
  constructor(description: string, cause: unknown) {
    super(`Cannot reach ${description}: ${maskSecrets((cause as Error)?.message ?? String(cause))}`, "ERR_STORE_UNAVAILABLE", { cause });
    this.name = "StoreUnavailableError";
  }
}

/** Whether a `Bun.redis` error says the connection is gone (the client then has to be replaced). */
export function isRedisConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === "string" && (code.startsWith("ERR_REDIS_CONNECTION") || code === "ECONNREFUSED" || code === "ERR_REDIS_INVALID_RESPONSE_TYPE");
}

/**
 * Whether a `Bun.sql` error comes from a pooled connection the server closed (a restart: SQLSTATE
 * class 57P, operator intervention, and 08, connection exception) or from reaching no server.
 * The former is worth trying again on another connection; `refused` says the latter.
 * @see https://www.postgresql.org/docs/15/errcodes-appendix.html
 */
export function postgresConnectionFailure(error: unknown): "closed" | "refused" | undefined {
  const { code, errno } = (error as { code?: unknown; errno?: unknown }) ?? {};
  if (code === "ERR_POSTGRES_CONNECTION_REFUSED" || code === "ERR_POSTGRES_CONNECTION_TIMEOUT" || code === "ECONNREFUSED") return "refused";
  if (code === "ERR_POSTGRES_CONNECTION_CLOSED" || (typeof errno === "string" && /^(57P0[123]|08)/.test(errno))) return "closed";
  return undefined;
}
