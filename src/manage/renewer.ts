/**
 * manage()'s background work: each certificate renewed at its time (retried with backoff while
 * the current one keeps being served), certificates other instances saved taken up, and the
 * server's certificates swapped after each change.
 */
import { AcmeProblemError, type AcmeAccount, type AcmeTransport, type ChallengeSolver } from "../acme/index.ts";
import { readCertificate } from "../asn1/index.ts";
import { decodePemBlocks } from "../encoding/index.ts";
import { isDue, needsRenewalInfo, obtainLineage, scheduleRenewal } from "../lifecycle/index.ts";
import type { ServedCertificate } from "../servers/index.ts";
import type { CertificateStore, StoredLineage } from "../store/index.ts";
import { eventOf, type ManageEvent } from "./events.ts";
import { keepCopy, servedSlots, type Slot } from "./slots.ts";
import { jitteredDelay, MAX_TIMER_MS } from "./timing.ts";

/** What manage() serves with: `HotTlsServer` (Bun.serve) or `TlsFrontServer` (node:tls, on demand). */
export interface CertificateServer {
  readonly port: number;
  serve(certificates: readonly ServedCertificate[]): Promise<void>;
  stop(): Promise<void>;
}

/** The ACME account, opened when first needed (an instance serving from its cache needs none) and again when the CA forgot it. */
export class AccountHolder {
  private opening: Promise<AcmeAccount> | undefined;
  private readonly open: () => Promise<AcmeAccount>;

  constructor(open: () => Promise<AcmeAccount>) {
    this.open = open;
  }

  get(): Promise<AcmeAccount> {
    this.opening ??= this.open();
    this.opening.catch(() => (this.opening = undefined));
    return this.opening;
  }

  reopen(): Promise<AcmeAccount> {
    this.opening = undefined;
    return this.get();
  }
}

/** What the renewer works with. */
export interface RenewerContext {
  readonly store: CertificateStore;
  readonly cache?: CertificateStore;
  readonly transport: AcmeTransport;
  readonly account: AccountHolder;
  readonly solver: ChallengeSolver;
  readonly https: CertificateServer;
  readonly slots: Slot[];
  readonly emit: (event: ManageEvent) => void;
  /** Obtains (or loads) a certificate for more names: on demand. */
  readonly newSlot: (names: readonly string[]) => Promise<Slot>;
}

/** Renews each slot at its time, swapping the server's certificates after each renewal. */
export class Renewer {
  private readonly context: RenewerContext;

  constructor(context: RenewerContext) {
    this.context = context;
  }

  private emit(event: ManageEvent): void {
    this.context.emit(event);
  }

  /** Takes up a lineage another instance saved (when it is newer than the one served), swaps it in and reschedules. */
  async adopt(name: string): Promise<void> {
    const slot = this.context.slots.find((candidate) => candidate.config.name === name);
    if (!slot || slot.busy || slot.detached) return;
    const summary = await this.context.store.summary(name).catch(() => undefined);
    if (!summary || !this.isNewer(summary.meta, slot)) return;
    const stored = await this.context.store.load(name).catch(() => undefined);
    if (stored && this.isNewer(stored.meta, slot)) await this.takeUp(slot, stored);
  }

  private isNewer(meta: StoredLineage["meta"], slot: Slot): boolean {
    return meta.serial !== slot.current.meta.serial && Date.parse(meta.notBefore) >= Date.parse(slot.current.meta.notBefore);
  }

  private async takeUp(slot: Slot, stored: StoredLineage): Promise<void> {
    slot.current = stored;
    clearTimeout(slot.timer);
    if (slot.serve) await this.context.https.serve(servedSlots(this.context.slots));
    await keepCopy(this.context, stored);
    this.emit({ ...eventOf("updated", stored), message: "renewed by another instance" });
    this.schedule(slot);
  }

  /** Adds a certificate for `names` (obtained now unless the store has it), schedules its renewal, and returns it to serve. */
  async addSlot(names: readonly string[]): Promise<ServedCertificate> {
    const slot = await this.context.newSlot(names);
    this.context.slots.push(slot);
    this.schedule(slot);
    return servedSlots([slot])[0]!;
  }

  /** Sets the slot's timer for its renewal time (or its ARI re-check, whichever is first); a detached slot asks the store again after its backoff. */
  schedule(slot: Slot, delayMs?: number): void {
    clearTimeout(slot.timer); // one timer per slot, whoever schedules
    if (slot.detached) {
      slot.timer = setTimeout(() => void this.wake(slot), delayMs ?? slot.backoff.next());
      return;
    }
    const { meta } = slot.current;
    this.emit(eventOf("next_renewal", slot.current));
    const wake = Math.min(Date.parse(meta.nextRenewal), meta.ariRetryAt ? Date.parse(meta.ariRetryAt) : Infinity);
    const delay = delayMs ?? jitteredDelay(wake - Date.now(), Date.parse(meta.notAfter) - Date.parse(meta.notBefore));
    slot.timer = setTimeout(() => void this.wake(slot), Math.min(Math.max(delay, 0), MAX_TIMER_MS));
  }

  private async wake(slot: Slot): Promise<void> {
    try {
      if (slot.detached) await this.reattach(slot);
      if (needsRenewalInfo(slot.current.meta)) await this.refreshSchedule(slot);
      if (!isDue(slot.current.meta)) return this.schedule(slot);
      slot.busy = true;
      await this.renew(slot).finally(() => (slot.busy = false));
      slot.backoff.reset();
      this.schedule(slot);
    } catch (error) {
      const retryIn = slot.backoff.next();
      const retryAt = new Date(Date.now() + retryIn).toISOString();
      this.emit({ ...eventOf("renewal_failed", slot.current), at: retryAt, error: error as Error, message: (error as Error).message });
      if (Date.parse(slot.current.meta.notAfter) <= Date.now()) {
        this.emit({ ...eventOf("expired", slot.current), message: `the certificate expired at ${slot.current.meta.notAfter} and is still served: no renewal has succeeded` });
      }
      slot.timer = setTimeout(() => void this.wake(slot), retryIn);
    }
  }

  /** A slot served from the local cache meets the store again: a newer certificate there is taken up. */
  private async reattach(slot: Slot): Promise<void> {
    const stored = await this.context.store.load(slot.config.name);
    slot.detached = false;
    slot.backoff.reset();
    this.emit({ ...eventOf("warning", slot.current), message: `${this.context.store.description} is reachable again` });
    if (stored && this.isNewer(stored.meta, slot)) await this.takeUp(slot, stored);
  }

  private async renew(slot: Slot): Promise<void> {
    const lock = await this.context.store.lock(slot.config.name, { waitMs: 120_000 });
    try {
      // Another process sharing the store may have renewed it meanwhile.
      const stored = await this.context.store.load(slot.config.name);
      if (stored && stored.meta.serial !== slot.current.meta.serial && !isDue(stored.meta)) {
        slot.current = stored;
        this.emit({ ...eventOf("updated", stored), message: "renewed by another instance" });
      } else {
        const renewed = await this.obtain(slot);
        await this.context.store.save(renewed, lock);
        slot.current = renewed;
        this.emit(eventOf("renewed", renewed));
      }
    } finally {
      await lock.release();
    }
    await keepCopy(this.context, slot.current);
    if (slot.serve) await this.context.https.serve(servedSlots(this.context.slots));
  }

  /** A new certificate; when the CA no longer knows the account (a CA reset), the account is opened again once. */
  private async obtain(slot: Slot): Promise<StoredLineage> {
    const attempt = async (account: AcmeAccount) => obtainLineage({
      config: slot.config,
      transport: this.context.transport,
      account,
      solver: this.context.solver,
      ...(slot.current.meta.ariCertId ? { replaces: slot.current.meta.ariCertId } : {}),
    });
    try {
      return await attempt(await this.context.account.get());
    } catch (error) {
      if (!(error instanceof AcmeProblemError) || !error.is("accountDoesNotExist")) throw error;
      return attempt(await this.context.account.reopen());
    }
  }

  private async refreshSchedule(slot: Slot): Promise<void> {
    const leafDer = decodePemBlocks(slot.current.chainPem)[0]!.der;
    const meta = { ...slot.current.meta, ...(await scheduleRenewal(leafDer, readCertificate(leafDer), this.context.transport)) };
    await this.context.store.saveMeta(slot.config.name, meta);
    slot.current = { ...slot.current, meta };
  }
}
