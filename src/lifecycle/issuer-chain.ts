/**
 * Issuer fallback, as CertMagic's list of issuers: an ordered list of CAs, each with its own
 * account, EAB and roots. Every issuance starts at the first; a failure on the CA's side
 * (unreachable, rate-limited, broken) moves on to the next after a bounded number of attempts,
 * while a failure that another CA would meet too (the names refused, the validation failed, CAA)
 * does not. The certificate records the CA that issued it, and its renewal information is asked
 * of that CA.
 */
import {
  AcmeAuthorizationError,
  AcmeCertificateError,
  AcmeConnectionError,
  AcmeOrderError,
  AcmeProblemError,
  AcmeProtocolError,
  AcmeTimeoutError,
  AcmeTlsError,
  isProblemType,
  type AcmeProblem,
  type ProblemType,
} from "../acme/index.ts";
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import type { LineageConfig, LineageMeta, StoredLineage } from "../store/index.ts";
import { Issuer, type IssueLineageOptions, type IssuerOptions } from "./issuer.ts";
import { scheduleRenewal } from "./schedule.ts";

/** Problem types that say the CA, not the request, is at fault: another CA may well issue. */
const CA_SIDE_PROBLEMS: readonly ProblemType[] = ["rateLimited", "serverInternal", "badNonce", "orderNotReady", "userActionRequired", "externalAccountRequired"];

/** How an {@link IssuerChain} moves along its CAs. */
export interface IssuerChainOptions {
  /**
   * Issuances tried at one CA before the next (default 1; the transport below already retries
   * refused connections and 5xx answers with backoff). A rate limit moves on at once.
   */
  readonly attempts?: number;
  /** Told when a CA failed and the next is tried. */
  readonly onFallback?: (failed: string, next: string, error: Error, config: LineageConfig) => void;
}

/**
 * Whether `error` is the CA's fault (unreachable, untrusted TLS, rate-limited, an internal error,
 * a malformed answer or certificate), so that another CA should be tried. Caller-side problems
 * (rejectedIdentifier, unauthorized, caa, dns, incorrectResponse, connection to the validation
 * target, a cancelled issuance) are not.
 */
export function isCaSideFailure(error: unknown): boolean {
  if (error instanceof AcmeConnectionError || error instanceof AcmeTlsError || error instanceof AcmeProtocolError) return true;
  if (error instanceof AcmeCertificateError || error instanceof AcmeTimeoutError) return true;
  if (error instanceof AcmeProblemError) return error.status >= 500 || caSideProblem(error.problem);
  if (error instanceof AcmeOrderError || error instanceof AcmeAuthorizationError) return error.problem !== undefined && caSideProblem(error.problem);
  return false;
}

function caSideProblem(problem: AcmeProblem): boolean {
  return CA_SIDE_PROBLEMS.some((type) => isProblemType(problem, type));
}

/**
 * An ordered list of CAs that the lifecycle engine uses as one issuer: it is the first CA (its
 * transport, account and clock) and falls back to the others for issuances.
 */
export class IssuerChain extends Issuer {
  /** The CAs after the first, in order. */
  readonly fallbacks: readonly Issuer[];
  private readonly chainOptions: IssuerChainOptions;

  /**
   * @throws {RangeError} for an empty list or attempts below 1
   */
  constructor(issuers: readonly IssuerOptions[], options: IssuerChainOptions = {}) {
    if (issuers.length === 0) throw new RangeError("Cannot build an issuer chain: the list of CAs is empty");
    if (options.attempts !== undefined && !(Number.isInteger(options.attempts) && options.attempts >= 1)) {
      throw new RangeError(`Cannot build an issuer chain: attempts must be a whole number of at least 1, not ${options.attempts}`);
    }
    super(issuers[0]!);
    this.fallbacks = issuers.slice(1).map((issuer) => new Issuer(issuer));
    this.chainOptions = options;
  }

  /** Every CA's directory URL, in order. */
  get directoryUrls(): readonly string[] {
    return [this.directoryUrl, ...this.fallbacks.map((issuer) => issuer.directoryUrl)];
  }

  /**
   * A new certificate from the first CA that issues one, starting at the first.
   *
   * @throws {AcmeError} the first CA's error when every CA failed, or at once a caller-side failure
   */
  override async obtain(config: LineageConfig, options: IssueLineageOptions = {}): Promise<StoredLineage> {
    const urls = this.directoryUrls;
    let firstError: unknown;
    for (let index = 0; index < urls.length; index++) {
      try {
        return await this.obtainAt(index, config, options);
      } catch (error) {
        if (!isCaSideFailure(error) || options.signal?.aborted) throw error;
        firstError ??= error;
        if (index + 1 < urls.length) this.chainOptions.onFallback?.(urls[index]!, urls[index + 1]!, error as Error, config);
      }
    }
    throw firstError;
  }

  /**
   * The lineage's metadata with its renewal time asked of the CA that issued it (the first when
   * not recorded); when that CA cannot answer and there are others, a third of the lifetime left,
   * so that a CA that is down never stops a renewal from another.
   *
   * @throws {AcmeError} when the CA answers with a caller-side problem
   */
  override async schedule(lineage: StoredLineage): Promise<LineageMeta> {
    const index = Math.max(0, this.directoryUrls.indexOf(lineage.meta.directoryUrl ?? this.directoryUrl));
    try {
      return index === 0 ? await super.schedule(lineage) : await this.fallbacks[index - 1]!.schedule(lineage);
    } catch (error) {
      if (this.fallbacks.length === 0 || !isCaSideFailure(error)) throw error;
      const leafDer = decodePemBlocks(lineage.chainPem)[0]!.der;
      const { ariRetryAt: _ignored, ...meta } = lineage.meta;
      return { ...meta, ...(await scheduleRenewal(leafDer, readCertificate(leafDer), undefined, this.clock.now())) };
    }
  }

  /** Up to `attempts` issuances at the CA at `index`; a rate limit ends them at once. */
  private async obtainAt(index: number, config: LineageConfig, options: IssueLineageOptions): Promise<StoredLineage> {
    const attempts = this.chainOptions.attempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return index === 0 ? await super.obtain(config, options) : await this.fallbacks[index - 1]!.obtain(config, options);
      } catch (error) {
        const rateLimited = error instanceof AcmeProblemError && error.is("rateLimited");
        if (attempt >= attempts || rateLimited || !isCaSideFailure(error) || options.signal?.aborted) throw error;
      }
    }
  }
}
