/**
 * What certonly, renew and certificates print: one line per certificate for people, or one JSON
 * object per event with `--json` for programs.
 */
import type { LineageMeta } from "../store/index.ts";
import type { CommandIo } from "./command.ts";

/** The events. */
export type LineageEventKind = "obtained" | "renewed" | "not_due" | "dry_run" | "failed" | "lineage";

/** One event about one lineage. */
export interface LineageEvent {
  readonly event: LineageEventKind;
  readonly lineage: string;
  readonly names: readonly string[];
  readonly meta?: LineageMeta;
  /** For `failed`: the reason, one line. */
  readonly error?: string;
  /** A hook that failed after the certificate was saved. */
  readonly hookError?: string;
  readonly folder?: string;
  /** For `lineage`: what is wrong with the stored certificate, as certbot marks it ("EXPIRED", "INVALID (...)"). */
  readonly problems?: readonly string[];
  /** For `lineage`: the CA that issued it (directory URL, when recorded) and the issuing certificate's common name. */
  readonly issuer?: { readonly directoryUrl?: string; readonly commonName?: string };
  /** For `lineage`: whether its renewal time has come (renew would renew it now). */
  readonly due?: boolean;
}

/** Prints events as text or JSON lines. */
export class Reporter {
  private readonly io: CommandIo;
  readonly json: boolean;

  constructor(io: CommandIo, json: boolean) {
    this.io = io;
    this.json = json;
  }

  /** A progress line: shown as text only. */
  progress(line: string): void {
    if (!this.json) this.io.out(line);
  }

  report(event: LineageEvent): void {
    if (this.json) {
      this.io.out(JSON.stringify({
        event: event.event,
        lineage: event.lineage,
        names: event.names,
        ...(event.meta ? { serial: event.meta.serial, not_after: event.meta.notAfter, next_renewal: event.meta.nextRenewal } : {}),
        ...(event.folder ? { folder: event.folder } : {}),
        ...(event.error ? { error: event.error } : {}),
        ...(event.hookError ? { hook_error: event.hookError } : {}),
        ...(event.issuer ? { issuer: { directory_url: event.issuer.directoryUrl ?? null, common_name: event.issuer.commonName ?? null } } : {}),
        ...(event.due !== undefined && event.meta ? {
          due: event.due, renewal_source: event.meta.renewalSource, ...(event.meta.ariRetryAt ? { ari_retry_at: event.meta.ariRetryAt } : {}),
        } : {}),
        ...(event.problems?.length ? { status: event.problems.some((problem) => problem.startsWith("INVALID")) ? "invalid" : "expired", problems: event.problems } : {}),
      }));
      return;
    }
    const line = describe(event);
    if (event.event === "failed") this.io.err(line);
    else this.io.out(line);
    if (event.hookError) this.io.err(`${event.lineage}: ${event.hookError}`);
  }
}

function describe(event: LineageEvent): string {
  const { meta } = event;
  const current = meta ? `serial ${meta.serial}, expires ${meta.notAfter}, next renewal ${meta.nextRenewal}` : "";
  switch (event.event) {
    case "obtained":
      return `${event.lineage}: obtained (${current})${event.folder ? ` in ${event.folder}` : ""}`;
    case "renewed":
      return `${event.lineage}: renewed (${current})`;
    case "not_due":
      return `${event.lineage}: not due until ${meta!.nextRenewal} (expires ${meta!.notAfter})`;
    case "dry_run":
      return `${event.lineage}: dry run: the CA issued serial ${meta!.serial}; nothing saved, no deploy hook`;
    case "failed":
      return `${event.lineage}: failed: ${event.error}`;
    case "lineage":
      return `${event.lineage}: ${event.names.join(", ")}; ${current}${event.problems?.length ? `; ${event.problems.join(", ")}` : ""}${event.folder ? `; ${event.folder}` : ""}`;
  }
}
