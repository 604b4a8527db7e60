/**
 * A shared store's announcements (Redis PUBLISH, PostgreSQL NOTIFY), read the same way by both.
 * A save: the lineage's name alone (a metadata save, a record too long to announce, an older
 * instance), or the whole record as stored, `{name, config, meta, chain, key}`, which the store
 * then checks as it checks a record it reads. A lock ended without a save (its holder failed,
 * stopped, or found the certificate already saved): `{released}` naming the lineage, which
 * instances older than these announcements read as no announcement at all.
 */
import { checkLineageName } from "./lineage.ts";

/** A record carried whole by an announcement: the fields as the store keeps them (key and config sealed when the store seals). */
export interface AnnouncedRecord {
  readonly config: string;
  readonly meta: string;
  readonly chain: string;
  readonly key: string;
}

/** What an announcement says: which lineage was saved, and its record when it came whole; or whose lock ended unsaved. */
export interface Announcement {
  readonly name: string;
  readonly record?: AnnouncedRecord;
  /** The lineage's lock was released without a save: nothing to take up, the lock is free. */
  readonly released?: true;
}

/** The announcement of a lock released without a save ({@link parseAnnouncement} reads it back). */
export function releaseAnnouncement(name: string): string {
  return JSON.stringify({ released: name });
}

const FIELDS = ["config", "meta", "chain", "key"] as const;

/**
 * Reads an announcement. A JSON object whose `name` is a lineage name announces that lineage,
 * with its record when all four fields are non-empty strings (else by name alone, to be read by
 * the caller); one whose `released` is a lineage name (and has no `name`) announces that
 * lineage's lock released unsaved; any other text that is a lineage name announces that name.
 * Anything else (a malformed object, a name that cannot be a lineage's) is no announcement:
 * `undefined`.
 */
export function parseAnnouncement(message: string): Announcement | undefined {
  if (!message.startsWith("{")) return lineageName(message) === undefined ? undefined : { name: message };
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (fields.name === undefined && typeof fields.released === "string") {
    const released = lineageName(fields.released);
    return released === undefined ? undefined : { name: released, released: true };
  }
  const name = typeof fields.name === "string" ? lineageName(fields.name) : undefined;
  if (name === undefined) return undefined;
  const text = (field: (typeof FIELDS)[number]) => (typeof fields[field] === "string" && fields[field] !== "" ? (fields[field] as string) : undefined);
  const [config, meta, chain, key] = FIELDS.map(text);
  return config && meta && chain && key ? { name, record: { config, meta, chain, key } } : { name };
}

function lineageName(text: string): string | undefined {
  try {
    return checkLineageName(text);
  } catch {
    return undefined;
  }
}
