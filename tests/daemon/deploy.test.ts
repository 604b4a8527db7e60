/**
 * The daemon's deploy hook (deploy()) with a real sh, on a lineage obtained from the FAKE CA into
 * the memory store: a hook killed at its time limit (the site's deploy_hook_timeout) is one
 * hook_failed line that names that setting (serve has no --hook-timeout), and one killed because
 * the daemon stopped says that instead.
 */
import { describe, expect, test } from "bun:test";
import { deploy } from "../../src/daemon/deploy.ts";
import { ensureLineage, type UntimedEvent } from "../../src/lifecycle/index.ts";
import { configFor, engineWorld } from "../support/engine.ts";

async function world() {
  const { store, issuer } = engineWorld();
  const config = configFor("hook.fake.test");
  await ensureLineage(store, config, issuer());
  const events: UntimedEvent[] = [];
  return { store, events, say: (event: UntimedEvent) => void events.push(event), subject: { lineage: config.name, names: ["hook.fake.test"] } };
}

const site = (deployHook: string) => ({ names: [{ type: "dns" as const, value: "hook.fake.test" }], deployHook });

describe("the daemon's deploy hook", () => {
  test("killed at the site's deploy_hook_timeout: the hook_failed line gives the limit in seconds and names that setting, no command-line flag", async () => {
    const { store, events, say, subject } = await world();
    // 2 s: time enough, on a loaded machine, for the shell to print its line before it is killed.
    await deploy({ ...site("echo going; sleep 60"), deployHookTimeoutMs: 2_000 }, subject, store, say, new AbortController().signal);
    expect(events).toHaveLength(1);
    const [event] = events as [Extract<UntimedEvent, { type: "hook_failed" }>];
    expect(event).toMatchObject({ type: "hook_failed", hook: "deploy", lineage: "hook.fake.test", exitCode: 124, output: "going" });
    expect(event.error).toBe('deploy hook "echo going; sleep 60" was killed after 2 s (the site\'s deploy_hook_timeout in serve.toml, 300 s unless set): going');
    expect(event.error).not.toContain("--");
  });

  test("killed because the daemon stopped: the line says so, not a time limit", async () => {
    const { store, events, say, subject } = await world();
    const stopping = new AbortController();
    setTimeout(() => stopping.abort(), 1_000);
    await deploy(site("echo going; sleep 60"), subject, store, say, stopping.signal);
    expect((events[0] as Extract<UntimedEvent, { type: "hook_failed" }>).error).toBe('deploy hook "echo going; sleep 60" was killed as the daemon stopped: going');
  });

  test("a hook that fails gives its exit code and output", async () => {
    const { store, events, say, subject } = await world();
    await deploy(site('echo "cannot reload"; exit 3'), subject, store, say, new AbortController().signal);
    expect(events).toEqual([{ type: "hook_failed", hook: "deploy", ...subject, error: 'deploy hook "echo "cannot reload"; exit 3" exited with 3: cannot reload', exitCode: 3, output: "cannot reload" }]);
  });
});
