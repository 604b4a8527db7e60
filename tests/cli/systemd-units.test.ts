/**
 * The systemd service and timer for `renew` under project/, checked by systemd's own verifier
 * (skipped by name where systemd-analyze is not installed).
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../support/client.ts";
import { makeTempDir } from "../support/temp.ts";

const hasVerifier = Bun.which("systemd-analyze") !== null;
const executable = join(ROOT, "dist", "bun-acme");

describe("project/bun-acme-renew.service and .timer", () => {
  test.skipIf(!hasVerifier)("pass systemd-analyze verify, with ExecStart pointed at the built executable (needs systemd-analyze)", () => {
    expect(existsSync(executable)).toBe(true);
    const dir = makeTempDir("bun-acme-systemd-");
    const service = readFileSync(join(ROOT, "project", "bun-acme-renew.service"), "utf8");
    expect(service).toContain("ExecStart=/usr/local/bin/bun-acme renew --state /var/lib/bun-acme");
    writeFileSync(join(dir, "bun-acme-renew.service"), service.replace("/usr/local/bin/bun-acme", executable));
    copyFileSync(join(ROOT, "project", "bun-acme-renew.timer"), join(dir, "bun-acme-renew.timer"));
    const verify = Bun.spawnSync(["systemd-analyze", "verify", "bun-acme-renew.service", "bun-acme-renew.timer"], { cwd: dir, stderr: "pipe" });
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("the service runs renew and the timer starts it", () => {
    expect(readFileSync(join(ROOT, "project", "bun-acme-renew.service"), "utf8")).toMatch(/^Type=oneshot$/m);
    expect(readFileSync(join(ROOT, "project", "bun-acme-renew.timer"), "utf8")).toMatch(/^Persistent=true$/m);
  });
});

describe("project/bun-acme-serve.service", () => {
  test.skipIf(!hasVerifier)("passes systemd-analyze verify, with ExecStart pointed at the built executable (needs systemd-analyze)", () => {
    expect(existsSync(executable)).toBe(true);
    const dir = makeTempDir("bun-acme-systemd-serve-");
    const service = readFileSync(join(ROOT, "project", "bun-acme-serve.service"), "utf8");
    expect(service).toContain("ExecStart=/usr/local/bin/bun-acme serve --config /etc/bun-acme/serve.toml");
    writeFileSync(join(dir, "bun-acme-serve.service"), service.replace("/usr/local/bin/bun-acme", executable));
    const verify = Bun.spawnSync(["systemd-analyze", "verify", "bun-acme-serve.service"], { cwd: dir, stderr: "pipe" });
    expect(verify.stderr.toString()).toBe("");
    expect(verify.exitCode).toBe(0);
  });

  test("reload sends SIGHUP, a crash restarts it, SIGTERM drains", () => {
    const service = readFileSync(join(ROOT, "project", "bun-acme-serve.service"), "utf8");
    expect(service).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(service).toMatch(/^Restart=on-failure$/m);
    expect(service).toMatch(/^KillSignal=SIGTERM$/m);
    // Where root may, connections queued on a closing listener move instead of being reset: swaps without the relay's hop.
    expect(service).toMatch(/^ExecStartPre=\+-\/usr\/sbin\/sysctl -qw net\.ipv4\.tcp_migrate_req=1$/m);
  });
});
