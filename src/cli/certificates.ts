/**
 * `certificates`: the stored lineages, with their names, expiry and next renewal time.
 */
import type { CertificateStore } from "../store/index.ts";
import { openCommandStore, readStoreLocation, type StoreLocation } from "./store-flag.ts";
import type { BaseOptions, Command } from "./command.ts";
import { describeError, ExitCode } from "./errors.ts";
import { Reporter } from "./report.ts";

/** Everything `certificates` needs. */
export interface CertificatesOptions extends BaseOptions {
  readonly store: StoreLocation;
  readonly json: boolean;
}

/** The `certificates` command: its flags, parser and run function. */
export const certificatesCommand: Command<CertificatesOptions> = {
  name: "certificates",
  synopsis: "certificates [--state DIR | --store URL] [--json]",
  summary: "list the stored certificates: names, expiry, next renewal",
  flags: ["--state", "--store", "--json"],
  timeoutWhat: "the list (--timeout)",
  parse(flags) {
    flags.noPositionals();
    return { store: readStoreLocation(flags), json: flags.has("--json"), caFile: undefined, timeoutSeconds: 300 };
  },
  async run(options, { io }) {
    const reporter = new Reporter(io, options.json);
    const store = openCommandStore(options.store, io.env);
    try {
      return await list(store, reporter, io.env);
    } finally {
      await store.close?.();
    }
  },
};

/** One line per stored lineage; a lineage whose files are damaged is reported and counted. */
async function list(store: CertificateStore, reporter: Reporter, env: Record<string, string | undefined>): Promise<number> {
  const names = await store.list();
  if (names.length === 0) reporter.progress(`No certificates in ${store.description}`);
  let failures = 0;
  for (const name of names) {
    try {
      const { config, meta } = (await store.summary(name))!;
      reporter.report({ event: "lineage", lineage: name, names: config.identifiers.map((identifier) => identifier.value), meta, folder: store.locate(name) });
    } catch (error) {
      reporter.report({ event: "failed", lineage: name, names: [], error: describeError(error, env) });
      failures++;
    }
  }
  return failures > 0 ? ExitCode.FAILURE : ExitCode.OK;
}
