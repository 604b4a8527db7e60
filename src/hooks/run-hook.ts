/**
 * Hooks: shell commands run around an issuance, as certbot runs them, with certbot's variable
 * names so that existing scripts keep working. A hook gets a scrubbed environment (never the
 * store's key or another secret of this process), runs in a process group of its own, and is
 * killed with that group when its time is up.
 * @see https://eff-certbot.readthedocs.io/en/stable/using.html#renewing-certificates
 */

/** What a hook did. */
export interface HookResult {
  readonly command: string;
  /** The shell's exit code; 124 when the hook was killed for taking too long (as timeout(1) says). */
  readonly exitCode: number;
  /** The last lines of its output (stdout and stderr), for the report. */
  readonly tail: string;
  /** Whether it was killed: for running past its time, or by the caller's signal. */
  readonly timedOut?: boolean;
  /** When it was killed: the seconds it was allowed (its time limit), or had run when the signal came. */
  readonly timeoutSeconds?: number;
}

/** How long a hook may run and where its output goes. */
export interface HookOptions {
  /** Milliseconds before the hook's process group is killed (default {@link DEFAULT_HOOK_TIMEOUT_SECONDS}). */
  readonly timeoutMs?: number;
  /** Also kills it (e.g. the end of the command's `--timeout`). */
  readonly signal?: AbortSignal;
  /** Each line of its output, as it comes (`--verbose`). */
  readonly onOutput?: (line: string) => void;
}

/** How long a hook may run unless told otherwise (the command line's `--hook-timeout` default). */
export const DEFAULT_HOOK_TIMEOUT_SECONDS = 300;

/** Lines of a failing hook's output shown. */
const TAIL_LINES = 5;
/** After the shell exits, how long output from what it left running is still read. */
const OUTPUT_GRACE_MS = 500;
/** The variables a hook inherits; everything else (BUN_ACME_STORE_KEY, tokens, passwords) is left out. */
const KEPT = new Set(["PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "SHELL", "TERM", "TMPDIR"]);

/**
 * The environment a hook gets: PATH, HOME, the locale and a few other harmless variables of ours,
 * plus `extra` (certbot's `RENEWED_*`).
 */
export function hookEnvironment(extra: Record<string, string> = {}, env: Record<string, string | undefined> = process.env): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (KEPT.has(name) || name.startsWith("LC_"))) kept[name] = value;
  }
  kept.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return { ...kept, ...extra };
}

/**
 * Runs `command` with `sh -c` in a process group of its own, with a scrubbed environment extended
 * by `env`, its output captured; the whole group is killed when `timeoutMs` passes or `signal`
 * aborts. Background processes it leaves running do not hold the run up.
 */
export async function runHook(command: string, env: Record<string, string> = {}, options: HookOptions = {}): Promise<HookResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HOOK_TIMEOUT_SECONDS * 1000;
  const child = Bun.spawn(["sh", "-c", command], { env: hookEnvironment(env), stdin: "ignore", stdout: "pipe", stderr: "pipe", detached: true });
  let timedOut = false;
  let pastLimit = false;
  const kill = () => {
    timedOut = true;
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch { /* already gone */ }
  };
  const timer = setTimeout(() => {
    pastLimit = true;
    kill();
  }, timeoutMs);
  const abort = () => kill();
  if (options.signal?.aborted) kill();
  options.signal?.addEventListener("abort", abort, { once: true });
  const lines: string[] = [];
  const collect = (text: string) => {
    for (const line of text.split("\n").map((part) => part.trimEnd()).filter((part) => part !== "")) {
      lines.push(line);
      options.onOutput?.(line);
    }
  };
  const readers = [child.stdout.getReader(), child.stderr.getReader()];
  const reading = Promise.all(readers.map((reader) => readLines(reader, collect)));
  const started = Date.now();
  const exitCode = await child.exited;
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", abort);
  // What the hook started in the background may keep its output open: read a little longer, then stop.
  let grace: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([reading, new Promise((resolve) => (grace = setTimeout(resolve, OUTPUT_GRACE_MS)))]);
  clearTimeout(grace);
  for (const reader of readers) void reader.cancel().catch(() => {});
  const tail = lines.slice(-TAIL_LINES).join(" | ");
  if (!timedOut) return { command, exitCode, tail };
  // Past its limit, the limit itself is what the user set (or can set); killed by the signal, the time it had run.
  const seconds = pastLimit ? timeoutMs / 1000 : Math.round((Date.now() - started) / 1000);
  return { command, exitCode: 124, tail, timedOut: true, timeoutSeconds: seconds };
}

/** What `readLines` needs of a stream reader (Bun's reader type and the standard one differ). */
interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
}

async function readLines(reader: ChunkReader, collect: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      const end = pending.lastIndexOf("\n");
      if (end >= 0) {
        collect(pending.slice(0, end));
        pending = pending.slice(end + 1);
      }
    }
  } catch { /* the stream was cut */ }
  collect(pending);
}

/** The deploy hook's environment: certbot's names. */
export function deployHookEnv(lineageFolder: string, names: readonly string[]): Record<string, string> {
  return { RENEWED_LINEAGE: lineageFolder, RENEWED_DOMAINS: names.join(" ") };
}
