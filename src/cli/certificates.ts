/**
 * `certificates`: the stored lineages, with their names, expiry and next renewal time.
 */
import { resolve } from "node:path";
import { defaultStoreDir, FileCertificateStore } from "../store/index.ts";
import type { BaseOptions, Command } from "./command.ts";
import { describeError, ExitCode } from "./errors.ts";
import { Reporter } from "./report.ts";

/** Everything `certificates` needs. */
export interface CertificatesOptions extends BaseOptions {
  readonly stateDir: string;
  readonly json: boolean;
}

/** The `certificates` command: its flags, parser and run function. */
export const certificatesCommand: Command<CertificatesOptions> = {
  name: "certificates",
  synopsis: "certificates [--state DIR] [--json]",
  summary: "list the stored certificates: names, expiry, next renewal",
  flags: ["--state", "--json"],
  timeoutWhat: "the list (--timeout)",
  parse(flags) {
    flags.noPositionals();
    return { stateDir: resolve(flags.single("--state") ?? defaultStoreDir()), json: flags.has("--json"), caFile: undefined, timeoutSeconds: 300 };
  },
  async run(options, { io }) {
    const reporter = new Reporter(io, options.json);
    const store = new FileCertificateStore(options.stateDir);
    const names = await store.list();
    if (names.length === 0) reporter.progress(`No certificates in ${store.description}`);
    let failures = 0;
    for (const name of names) {
      try {
        const { config, meta } = (await store.summary(name))!;
        reporter.report({ event: "lineage", lineage: name, names: config.identifiers.map((identifier) => identifier.value), meta, folder: store.locate(name) });
      } catch (error) {
        reporter.report({ event: "failed", lineage: name, names: [], error: describeError(error, io.env) });
        failures++;
      }
    }
    return failures > 0 ? ExitCode.FAILURE : ExitCode.OK;
  },
};
