/**
 * Hooks: shell commands run around an issuance, as certbot runs them, with certbot's variable
 * names so that existing scripts keep working.
 * @see https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
 */

/** What a hook did. */
export interface HookResult {
  readonly command: string;
  readonly exitCode: number;
  /** The last lines of its output (stdout and stderr), for the report. */
  readonly tail: string;
}

/** Lines of a failing hook's output shown. */
const TAIL_LINES = 5;

/**
 * Runs `command` with `sh -c`, its output captured, the environment extended by `env`.
 */
export async function runHook(command: string, env: Record<string, string> = {}): Promise<HookResult> {
  const child = Bun.spawn(["sh", "-c", command], { env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const lines = `${stdout}${stderr}`.split("\n").map((line) => line.trimEnd()).filter((line) => line !== "");
  return { command, exitCode, tail: lines.slice(-TAIL_LINES).join(" | ") };
}

/** One line for a hook that failed. */
export function describeHookFailure(kind: "pre" | "post" | "deploy", result: HookResult): string {
  return `${kind} hook "${result.command}" exited with ${result.exitCode}${result.tail ? `: ${result.tail}` : ""}`;
}

/** The deploy hook's environment: certbot's names. */
export function deployHookEnv(lineageFolder: string, names: readonly string[]): Record<string, string> {
  return { RENEWED_LINEAGE: lineageFolder, RENEWED_DOMAINS: names.join(" ") };
}
