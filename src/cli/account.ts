/**
 * The `account` command: the persistent account in a state directory.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3
 */
import { deactivateAccount, getAccount, rollAccountKey, updateAccount } from "../acme/index.ts";
import { generateKeyPair } from "../jose/index.ts";
import type { AccountOptions } from "./args.ts";
import { openAccount, saveAccountKey } from "./account-state.ts";
import { ExitCode, type CommandIo } from "./run.ts";
import { commandTransport, resolveTrustRoots } from "./trust.ts";

/**
 * Opens (or creates) the account, then applies what was asked: new contacts, a key rollover
 * (the new key is saved only once the CA accepted it), or deactivation. Prints the result.
 */
export async function runAccountCommand(options: AccountOptions, io: CommandIo, signal?: AbortSignal): Promise<number> {
  const deadline = AbortSignal.timeout(options.timeoutSeconds * 1000);
  const transport = commandTransport(options.directoryUrl, resolveTrustRoots(options.caFile, io.env), [signal, deadline]);
  const { account, reused } = await openAccount(transport, {
    stateDir: options.stateDir,
    accountKeyType: options.accountKeyType,
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
}
