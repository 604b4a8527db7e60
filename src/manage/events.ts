/** What manage() reports about each certificate: the library's one event type. */
import type { EventOf } from "../lifecycle/index.ts";

/**
 * What happened to a managed certificate: a {@link LifecycleEvent}, the type the CLI's `--json`
 * and the daemon print too (`obtained`, `renewed`, `updated`, `next_renewal`, `failed`,
 * `expired`, `damaged`, `warning`).
 */
export type ManageEvent = EventOf<"obtained" | "renewed" | "updated" | "next_renewal" | "failed" | "expired" | "damaged" | "warning">;
