/**
 * What certonly, renew, certificates and the serve daemon print: the library's one event type,
 * as one line for people ({@link describeEvent}) or, with `--json`, one JSON object per line
 * (`eventLine`) for programs.
 */
import { eventLine, stampEvent, type LifecycleEvent, type UntimedEvent } from "../lifecycle/index.ts";
import type { CommandIo } from "./command.ts";

/** Prints events as text or JSON lines. */
export class Reporter {
  private readonly io: CommandIo;
  readonly json: boolean;
  private readonly now: () => number;

  /** @param now the clock that stamps each event's `time` (default `Date.now`) */
  constructor(io: CommandIo, json: boolean, now: () => number = Date.now) {
    this.io = io;
    this.json = json;
    this.now = now;
  }

  /** A progress line: shown as text only. */
  progress(line: string): void {
    if (!this.json) this.io.out(line);
  }

  /** Prints the event: a JSON line with `--json`, else its line (failures and hook failures on stderr). */
  report(untimed: UntimedEvent | LifecycleEvent): void {
    const event = stampEvent(untimed, this.now());
    if (this.json) {
      this.io.out(eventLine(event));
      return;
    }
    const line = describeEvent(event);
    if (event.type === "failed" || event.type === "hook_failed") this.io.err(line);
    else this.io.out(line);
    if ((event.type === "obtained" || event.type === "renewed") && event.hookError) this.io.err(`${event.lineage}: ${event.hookError}`);
  }
}

/** The one line people read for an event, the same from every command and the daemon. */
export function describeEvent(event: LifecycleEvent | UntimedEvent): string {
  switch (event.type) {
    case "obtained":
      return `${event.lineage}: obtained (${current(event)})${event.folder ? ` in ${event.folder}` : ""}`;
    case "renewed":
      return `${event.lineage}: renewed (${current(event)})`;
    case "not_due":
      return `${event.lineage}: not due until ${event.nextRenewal} (expires ${event.notAfter})`;
    case "dry_run":
      return `${event.lineage}: dry run: the CA issued serial ${event.serial}; nothing saved, no deploy hook`;
    case "updated":
      return `${event.lineage}: updated (${current(event)}): ${event.message}`;
    case "next_renewal":
      return `${event.lineage}: next renewal at ${event.at} (serial ${event.serial}, expires ${event.notAfter})`;
    case "expired":
    case "damaged":
      return `${event.lineage}: ${event.type}: ${event.message}`;
    case "failed":
      return `${event.lineage}: failed: ${event.error}${event.at ? `; tried again at ${event.at}` : ""}`;
    case "lineage":
      return `${event.lineage}: ${event.names.join(", ")}; ${current(event)}${event.problems?.length ? `; ${event.problems.join(", ")}` : ""}${event.folder ? `; ${event.folder}` : ""}`;
    case "warning": {
      const about = event.lineage ?? event.names?.join(", ");
      return `warning: ${about ? `${about}: ` : ""}${event.message}`;
    }
    case "renewal_info":
      return `${event.certificate}: renew at ${event.renewAt} (${event.source === "renewalInfo" ? "in the CA's suggested window" : "2/3 of the validity period"})`;
    case "serving":
      return `serving ${event.served} site(s)${event.onDemandSites ? ` and ${event.onDemandSites} on-demand site(s) (asking ${event.ask})` : ""} on https://${event.hostname}:${event.port}/, keeping ${event.sites} certificate(s) renewed in ${event.store}`;
    case "config_reloaded":
      return `config reloaded: ${event.sites} site(s)`;
    case "config_rejected":
      return `config not reloaded, the running one stays: ${event.error}`;
    case "hook_failed":
      return `${event.lineage ? `${event.lineage}: ` : ""}${event.error}`;
    case "request":
      // The access log is JSON lines, with or without --json, stamped by whoever logged the request (the daemon's clock).
      return eventLine(event as LifecycleEvent);
    case "proxy_error":
      return `proxy: ${event.host}: ${event.status} (${event.error}: ${event.detail ?? ""})`;
    case "stopped":
      return "stopped";
  }
}

function current(event: { readonly serial: string; readonly notAfter: string; readonly nextRenewal: string }): string {
  return `serial ${event.serial}, expires ${event.notAfter}, next renewal ${event.nextRenewal}`;
}
