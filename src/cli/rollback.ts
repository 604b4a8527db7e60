/**
 * `rollback`: makes one of a lineage's archived certificates current again (certbot keeps the
 * replaced ones in `archive/`; so does bun-acme's file store, the newest five per lineage), for a
 * renewal that brought a certificate a client rejects. The certificate it replaces is archived in
 * turn, so a rollback can itself be rolled back.
 */
import { FileCertificateStore, StoreError } from "../store/index.ts";
import type { BaseOptions, Command } from "./command.ts";
import { ExitCode, UsageError } from "./errors.ts";
import { readStoreLocation, type StoreLocation } from "./store-flag.ts";

/** Everything `rollback` needs. */
export interface RollbackOptions extends BaseOptions {
  readonly store: StoreLocation;
  readonly certName: string;
  readonly to: string | undefined;
}

/** The `rollback` command: its flags, parser and run function. */
export const rollbackCommand: Command<RollbackOptions> = {
  name: "rollback",
  synopsis: "rollback --cert-name NAME [--to SERIAL] [--state DIR]",
  summary: "make an archived certificate of a lineage current again (default: the newest archived); the current one is archived in its place (file stores)",
  flags: ["--cert-name", "--to", "--state", "--store"],
  timeoutWhat: "the rollback (--timeout)",
  parse(flags) {
    flags.noPositionals();
    const certName = flags.single("--cert-name");
    if (certName === undefined) throw new UsageError("rollback needs --cert-name NAME (see certificates for the names)");
    return { store: readStoreLocation(flags), certName, to: flags.single("--to"), caFile: undefined, timeoutSeconds: 60 };
  },
  async run(options, { io }) {
    if (options.store.shared) throw new UsageError("rollback works on a file store (--state DIR): shared stores keep no archive");
    const store = new FileCertificateStore(options.store.location);
    if (!(await store.summary(options.certName))) throw new StoreError(`No lineage ${options.certName} in ${store.description}`, "ERR_STORE_NOT_FOUND");
    const serial = options.to ?? (await store.versions(options.certName))[0]?.serial;
    if (serial === undefined) throw new StoreError(`Lineage ${options.certName} has nothing archived yet: a certificate is archived when a renewal replaces it`, "ERR_STORE_NOT_ARCHIVED");
    const lock = await store.lock(options.certName, { waitMs: 0 });
    try {
      const current = await store.summary(options.certName);
      const restored = await store.restore(options.certName, serial);
      io.out(`${options.certName}: serial ${restored.meta.serial} (expires ${restored.meta.notAfter}) is current again; serial ${current?.meta.serial} is archived`);
    } finally {
      await lock.release();
    }
    return ExitCode.OK;
  },
};
