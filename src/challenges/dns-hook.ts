/**
 * dns-01 through a command the user writes, for any DNS provider's API (as lego's `exec`
 * provider): `CMD present NAME VALUE` before the challenge is answered, `CMD cleanup NAME VALUE`
 * afterwards. NAME is the `_acme-challenge` name (no trailing dot), VALUE the TXT value.
 */
import type { Challenge, ChallengeSolver, Identifier } from "../acme/index.ts";
import { BunAcmeError } from "../errors/index.ts";
import { dns01RecordName, dns01TxtValue } from "./dns01.ts";

/** The hook failed: its command line, exit code and the last lines of its output. */
export class DnsHookError extends BunAcmeError {
  declare readonly code: "ERR_DNS_HOOK";
  constructor(message: string) {
    super("ERR_DNS_HOOK", message);
    this.name = "DnsHookError";
  }
}

/**
 * A `ChallengeSolver` (dns-01) that runs `command present|cleanup NAME VALUE` through `sh`, with
 * the environment of this process less `BUN_ACME_STORE_KEY` (a provider's credentials come from there).
 *
 * @example
 * const solver = new ExecDnsSolver("/usr/local/bin/my-dns-provider"); // my-dns-provider present _acme-challenge.example.net <value>
 * await issueCertificate({ transport, account, identifiers, csr, solver });
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.4
 */
export class ExecDnsSolver implements ChallengeSolver {
  readonly type = "dns-01";
  private readonly command: string;

  constructor(command: string) {
    this.command = command;
  }

  async present(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    await this.run("present", dns01RecordName(identifier.value), await dns01TxtValue(keyAuthorization));
  }

  async cleanup(identifier: Identifier, _challenge: Challenge, keyAuthorization: string): Promise<void> {
    await this.run("cleanup", dns01RecordName(identifier.value), await dns01TxtValue(keyAuthorization));
  }

  /** @throws {DnsHookError} when the command exits non-zero */
  private async run(action: "present" | "cleanup", name: string, value: string): Promise<void> {
    // The name and value are positional parameters, never parsed by the shell.
    // A provider's credentials come from the environment (as lego's exec provider has them); the store's key never does.
    const { BUN_ACME_STORE_KEY: _storeKey, ...env } = process.env;
    const child = Bun.spawn(["sh", "-c", `${this.command} "$@"`, "sh", action, name, value], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode === 0) return;
    const tail = `${stdout}${stderr}`.split("\n").map((line) => line.trim()).filter(Boolean).slice(-5).join(" | ");
    throw new DnsHookError(`dns hook "${this.command} ${action} ${name} ${value}" exited with ${exitCode}${tail ? `: ${tail}` : ""}`);
  }
}
