/**
 * `loadMany` for stores where one read per lineage costs nothing worth batching (files, memory):
 * each name loaded in turn, a damaged record kept as its error.
 */
import type { LoadedLineages } from "./certificate-store.ts";
import { StoreError, type StoredLineage } from "./lineage.ts";
import { StoreUnavailableError } from "./unavailable.ts";

/**
 * Loads each name with `load`, keeping a damaged record's {@link StoreError} in its place.
 *
 * @throws {StoreUnavailableError} when the store cannot be reached
 */
export async function loadEach(names: readonly string[], load: (name: string) => Promise<StoredLineage | undefined>): Promise<LoadedLineages> {
  const found = new Map<string, StoredLineage | StoreError>();
  for (const name of names) {
    const lineage = await loadOrDamage(name, load);
    if (lineage) found.set(name, lineage);
  }
  return found;
}

/**
 * One lineage, or the error naming its damage.
 *
 * @throws {StoreUnavailableError} when the store cannot be reached
 */
export async function loadOrDamage(name: string, load: (name: string) => Promise<StoredLineage | undefined>): Promise<StoredLineage | StoreError | undefined> {
  try {
    return await load(name);
  } catch (error) {
    if (error instanceof StoreUnavailableError || !(error instanceof StoreError)) throw error;
    return error;
  }
}
