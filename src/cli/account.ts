/**
 * The `account` command: the persistent account in a state directory.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 */
import { deactivateAccount, getAccount, rollAccountKey, updateAccount } from "../acme/index.ts";
import { ACCOUNT_KEY_TYPES, generateKeyPair, type KeyType } from "../jose/index.ts";
import { openAccount, saveAccountKey } from "../store/index.ts";
import type { BaseOptions, Command } from "./command.ts";
import { ExitCode, UsageError } from "./errors.ts";
import { COMMON_FLAGS } from "./flags.ts";
import { readContacts, readDirectory, readEab, readKeyType, readTimeout, type EabFlags } from "./values.ts";

/** Everything the `account` command needs. */
export interface AccountOptions extends BaseOptions {
  readonly directoryUrl: string;
  readonly stateDir: string;
  readonly contact: readonly string[] | undefined;
  readonly rollover: boolean;
  readonly deactivate: boolean;
  readonly accountKeyType: KeyType;
  readonly eab: EabFlags | null;
}

/**
 * Opens (or creates) the account, then applies what was asked: new contacts, a key rollover
 * (the new key is saved only once the CA accepted it), or deactivation. Prints the result.
 */
export const accountCommand: Command<AccountOptions> = {
  name: "account",
  synopsis: "account --dir URL --state DIR [--contact URI]... [--rollover | --deactivate]",
  summary: "show the persistent account (creating it if needed), replace its contacts, roll its key over (keyChange), or deactivate it",
  flags: [...COMMON_FLAGS, "--state", "--contact", "--rollover", "--deactivate", "--account-key-type", "--eab-kid", "--eab-hmac-key"],
  timeoutWhat: "the account (--timeout)",
  parse(flags) {
    flags.noPositionals();
    if (flags.has("--rollover") && flags.has("--deactivate")) throw new UsageError("choose one of --rollover and --deactivate");
    const eab = readEab(flags);
    return {
      directoryUrl: readDirectory(flags, eab),
      stateDir: flags.required("--state"),
      contact: flags.has("--contact") ? readContacts(flags) : undefined,
      rollover: flags.has("--rollover"),
      deactivate: flags.has("--deactivate"),
      accountKeyType: readKeyType(flags, "--account-key-type", ACCOUNT_KEY_TYPES),
      eab,
      caFile: flags.single("--ca"),
      timeoutSeconds: readTimeout(flags),
    };
  },
  async run(options, { io, transport: connect }) {
    const transport = connect(options.directoryUrl);
    const { account, reused } = await openAccount(transport, {
      stateDir: options.stateDir,
      keyType: options.accountKeyType,
      contact: options.contact ?? [],
      ...(options.eab ? { eab: options.eab } : {}),
    });
    io.out(`Account ${account.kid} (${reused ? "from" : "created in"} ${options.stateDir})`);
    let state = account.account;
    if (options.contact !== undefined && reused) {
      state = await updateAccount(transport, account, { contact: options.contact });
      io.out(`Contacts set to ${options.contact.length ? options.contact.join(", ") : "none"}`);
    }
    if (options.rollover) {
      const rolled = await rollAccountKey(transport, account, await generateKeyPair(options.accountKeyType));
      await saveAccountKey(options.stateDir, rolled.privateKey);
      state = await getAccount(transport, rolled);
      io.out(`Account key rolled over: new key thumbprint ${rolled.thumbprint}, saved to ${options.stateDir}`);
    }
    if (options.deactivate) {
      state = await deactivateAccount(transport, account);
      io.out("Account deactivated: the CA will refuse every request it signs from now on");
    }
    io.out(`Status: ${state.status}; contacts: ${state.contact?.length ? state.contact.join(", ") : "none"}`);
    return ExitCode.OK;
  },
};
