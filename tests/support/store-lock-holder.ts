/**
 * A second process for the shared-store lock tests: takes a lineage's lock with a short lease,
 * prints "locked" (and "lost ERR_..." once it learns its lease is gone), and on a line "save" on
 * stdin tries to save the lineage given as JSON in argv under that lock, printing "saved" or the
 * error's code.
 *
 *   bun tests/support/store-lock-holder.ts (redis|postgres) URL LEASE_MS LINEAGE_JSON
 */
import { PostgresCertificateStore, RedisCertificateStore, type StoredLineage } from "../../src/store/index.ts";

const [kind, url, leaseMs, lineageJson] = process.argv.slice(2);
const lineage = JSON.parse(lineageJson!) as StoredLineage;
const store = kind === "postgres" ? new PostgresCertificateStore(url!, { leaseMs: Number(leaseMs) }) : new RedisCertificateStore(url!, { leaseMs: Number(leaseMs) });
const lock = await store.lock(lineage.config.name, { waitMs: 0 });
console.log("locked");
lock.signal?.addEventListener("abort", () => console.log(`lost ${(lock.signal!.reason as { code?: string }).code}`));
for await (const line of console) {
  if (line.trim() !== "save") continue;
  try {
    await store.save(lineage, lock);
    console.log("saved");
  } catch (error) {
    console.log((error as { code?: string }).code ?? String(error));
  }
  break;
}
await lock.release();
await store.close();
