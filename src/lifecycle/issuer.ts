/**
 * The issuer: one CA as the lifecycle engine uses it. It owns the transport and the account,
 * opened when first needed (an instance that only serves what is stored never opens it) and
 * registered again, once, when the CA no longer knows it (a CA that was reset).
 */
import {
  AcmeProblemError,
  AcmeTransport,
  systemClock,
  type AcmeAccount,
  type ChallengeSolver,
  type Clock,
  type ExternalAccountBinding,
  type FetchFunction,
} from "../acme/index.ts";
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import type { KeyType } from "../jose/index.ts";
import { openAccount, type AccountStorage, type LineageConfig, type LineageMeta, type StoredLineage } from "../store/index.ts";
import { obtainLineage } from "./obtain.ts";
import { scheduleRenewal } from "./schedule.ts";

/** Which CA, how to reach it, how to prove control, and where the account lives. */
export interface IssuerOptions {
  /** A directory URL or a preset name (`letsencrypt`, ...). */
  readonly directoryUrl: string;
  /** PEM roots that verify the CA, when not the system's. */
  readonly ca?: string | readonly string[];
  /** The fetch the transport uses (default: the global one). */
  readonly fetch?: FetchFunction;
  /** Time and waiting (default: the system clock). */
  readonly clock?: Clock;
  /** A transport already made for this CA (it then decides the roots, fetch and signal). */
  readonly transport?: AcmeTransport;
  /** How control is proved, unless each issuance names its own solver. */
  readonly solver?: ChallengeSolver;
  /** Where the account's key and record are kept (default: nowhere, a fresh account per issuer). */
  readonly accountStorage?: AccountStorage;
  readonly contact?: readonly string[];
  readonly eab?: ExternalAccountBinding;
  /** The type of a fresh account key (default `ec256`). */
  readonly accountKeyType?: KeyType;
}

/** What one issuance may carry. */
export interface IssueLineageOptions {
  /** The ARI certificate ID of the certificate this one replaces. */
  readonly replaces?: string;
  /**
   * The directory URL of the CA that issued the certificate `replaces` names (absent: the lineage's
   * own CA): another CA is not sent `replaces`, as it never issued that certificate.
   */
  readonly replacesIssuer?: string;
  readonly signal?: AbortSignal;
  /** This issuance's solver, instead of the issuer's. */
  readonly solver?: ChallengeSolver;
  /** What clean-up after a failure may still use, once `signal` is aborted. */
  readonly cleanupSignal?: AbortSignal;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** One CA, its transport and its account, for the lifecycle engine. */
export class Issuer {
  readonly transport: AcmeTransport;
  readonly clock: Clock;
  readonly solver: ChallengeSolver | undefined;
  private readonly options: IssuerOptions;
  private opening: Promise<AcmeAccount> | undefined;
  /** Accounts opened so far (a test reads how often the CA's reset made it register again). */
  accountsOpened = 0;

  constructor(options: IssuerOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.solver = options.solver;
    this.transport = options.transport ?? new AcmeTransport({
      directoryUrl: options.directoryUrl,
      clock: this.clock,
      ...(options.fetch ? { fetch: options.fetch } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    });
  }

  /**
   * The account, opened (found or registered) on first use; a failed opening is tried again next time.
   *
   * @throws {AcmeProblemError} when the CA refuses the account
   */
  account(): Promise<AcmeAccount> {
    if (!this.opening) {
      this.accountsOpened++;
      const opening = openAccount(this.transport, {
        ...(this.options.accountStorage ? { storage: this.options.accountStorage } : {}),
        ...(this.options.contact ? { contact: this.options.contact } : {}),
        ...(this.options.eab ? { eab: this.options.eab } : {}),
        ...(this.options.accountKeyType ? { keyType: this.options.accountKeyType } : {}),
      }).then((opened) => opened.account);
      this.opening = opening;
      opening.catch(() => {
        if (this.opening === opening) this.opening = undefined;
      });
    }
    return this.opening;
  }

  /** The CA's directory URL (a preset resolved), as the lineage's metadata records it. */
  get directoryUrl(): string {
    return this.transport.directoryUrl;
  }

  /**
   * A new certificate for the lineage, not saved, its metadata naming this CA (`directoryUrl`).
   * When the CA answers `accountDoesNotExist` (it forgot the account), the account is opened
   * again, once for all issuances that met it, and the issuance tried once more.
   *
   * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.1
   * @throws {AcmeError} as {@link obtainLineage} does
   * @throws {TypeError} when neither the issuer nor the issuance names a solver
   */
  async obtain(config: LineageConfig, options: IssueLineageOptions = {}): Promise<StoredLineage> {
    const solver = options.solver ?? this.solver;
    if (!solver) throw new TypeError(`Cannot obtain ${config.name}: no challenge solver (give one to the Issuer or to the issuance)`);
    // ARI's replaces names a certificate of this CA's: another CA's would mean nothing to it.
    const replaces = options.replaces && (options.replacesIssuer ?? this.directoryUrl) === this.directoryUrl ? options.replaces : undefined;
    const attempt = async (account: AcmeAccount) => {
      const lineage = await obtainLineage({
        config,
        transport: this.transport,
        account,
        solver,
        clock: this.clock,
        ...(replaces ? { replaces } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.cleanupSignal ? { cleanupSignal: options.cleanupSignal } : {}),
        ...(options.log ? { log: options.log } : {}),
      });
      return { ...lineage, meta: { ...lineage.meta, directoryUrl: this.directoryUrl } };
    };
    const account = await this.account();
    try {
      return await attempt(account);
    } catch (error) {
      if (!(error instanceof AcmeProblemError) || !error.is("accountDoesNotExist")) throw error;
      return attempt(await this.reopen(account));
    }
  }

  /**
   * The lineage's metadata with its renewal time asked of the CA again (ARI).
   *
   * @see https://www.rfc-editor.org/rfc/rfc9773#section-4.2
   * @throws {AcmeError} when the CA cannot be reached
   */
  async schedule(lineage: StoredLineage): Promise<LineageMeta> {
    const leafDer = decodePemBlocks(lineage.chainPem)[0]!.der;
    return { ...lineage.meta, ...(await scheduleRenewal(leafDer, readCertificate(leafDer), this.transport, this.clock.now())) };
  }

  /** Opens the account again, unless another issuance already did since `stale` was handed out. */
  private async reopen(stale: AcmeAccount): Promise<AcmeAccount> {
    const current = await this.opening?.catch(() => undefined);
    if (current && current !== stale) return current;
    this.opening = undefined;
    return this.account();
  }
}
