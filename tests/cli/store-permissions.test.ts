/**
 * The file store as an attacker on the same machine sees it: folders made under `umask 000`, and
 * a second user (`nobody`, through setpriv) planting a lineage whose pre-hook would run as root.
 * Root's `renew` must refuse each planted file with one line naming it, and never run the hook.
 * Lineages come from the FAKE CA (tests/support/fake-ca.ts behind Bun.serve).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, runClient } from "../support/client.ts";
import { serveFakeCa, type ServedFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

const NAME = "perm.fake.test";
const isRoot = process.getuid?.() === 0;
const nobody = () => Number(Bun.spawnSync(["id", "-u", "nobody"]).stdout.toString().trim());

let served: ServedFakeCa;
beforeAll(() => {
  served = serveFakeCa();
});
afterAll(async () => {
  await served.stop();
});

const certonlyArgs = (state: string, extra: string[] = []) => [
  "certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002", "--state", state, ...extra,
];

/** Runs the command line under `umask 000`. */
async function runWithUmask000(args: readonly string[]) {
  const child = Bun.spawn(["sh", "-c", 'umask 000; exec "$@"', "sh", process.execPath, "run", join(ROOT, "src", "main.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, stdout, stderr };
}

/** Runs `script` with sh as the user nobody. */
function asNobody(script: string): void {
  const result = Bun.spawnSync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", script], { stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`as nobody: ${script}: ${result.stderr.toString()}`);
}

const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

/** A store (root's) holding one lineage; its parent is traversable by everyone so that nobody can reach what it is allowed to. */
async function storeWithLineage() {
  const parent = makeTempDir("bun-acme-perm-");
  chmodSync(parent, 0o755);
  const state = join(parent, "store");
  const obtained = await runClient(certonlyArgs(state));
  expect(obtained.stderr).toBe("");
  expect(obtained.code).toBe(0);
  const folder = join(state, "certificates", NAME);
  const planted = { ...JSON.parse(readFileSync(join(folder, "lineage.json"), "utf8")), cli: { hooks: { pre: `id > ${join(parent, "PWNED")}` } } };
  return { parent, state, folder, pwned: join(parent, "PWNED"), planted: JSON.stringify(planted) };
}

describe("folders the file store and --out make", () => {
  test("are 0700 under umask 000; keys 0600, certificates 0644", async () => {
    const parent = makeTempDir("bun-acme-umask-");
    const state = join(parent, "a", "store");
    const out = join(parent, "b", "out");
    const result = await runWithUmask000(certonlyArgs(state, ["--out", out]));
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    for (const folder of [join(parent, "a"), state, join(state, "certificates"), join(state, "certificates", NAME), join(parent, "b"), out]) {
      expect(`${folder} ${mode(folder)}`).toBe(`${folder} 700`);
    }
    expect(mode(join(state, "certificates", NAME, "privkey.pem"))).toBe("600");
    expect(mode(join(out, "privkey.pem"))).toBe("600");
    expect(mode(join(out, "fullchain.pem"))).toBe("644");
    expect(mode(join(state, "account-key.pem"))).toBe("600");
  });

  test("a certonly that fails leaves no empty lineage folder", async () => {
    const state = makeTempDir("bun-acme-failed-");
    const down = serveFakeCa();
    await down.stop();
    const result = await runClient(["certonly", "--dir", down.directoryUrl, "--allow-insecure-http", "--domain", NAME, "--bind", "127.0.0.1", "--http-port", "20002", "--state", state]);
    expect(result.code).toBe(1);
    expect(existsSync(join(state, "certificates", NAME))).toBe(false);
  });
});

describe.skipIf(!isRoot)("a lineage planted by another user (as nobody, through setpriv)", () => {
  test("a store folder left writable by everyone, its certificates/ replaced by nobody's: refused, the hook never runs", async () => {
    const { state, folder, pwned, planted } = await storeWithLineage();
    chmodSync(state, 0o777); // as main made it under umask 000
    asNobody(`mv ${state}/certificates ${state}/old && mkdir -p ${folder} && cat > ${folder}/lineage.json <<'EOF'\n${planted}\nEOF\ncp ${state}/old/${NAME}/metadata.json ${folder}/ 2>/dev/null || true`);
    const result = await runClient(["renew", "--state", state, "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toStartWith(`bun-acme: error: Refusing the store folder ${state}: its mode 0777 lets everyone write it`);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(existsSync(pwned)).toBe(false);
  });

  test("certificates/ owned by nobody (in a store folder root owns): refused naming it", async () => {
    const { state, folder, pwned, planted } = await storeWithLineage();
    chmodSync(state, 0o755); // as main made it
    renameSync(join(state, "certificates"), join(state, "old"));
    mkdirSync(join(state, "certificates"), { mode: 0o755 });
    chownSync(join(state, "certificates"), nobody(), nobody());
    asNobody(`mkdir -p ${folder} && cat > ${folder}/lineage.json <<'EOF'\n${planted}\nEOF`);
    const result = await runClient(["renew", "--state", state, "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      `bun-acme: error: Refusing the store folder ${join(state, "certificates")}: it is owned by uid ${nobody()}, not by this user (uid 0) or root, and bun-acme reads commands and keys from it: check who put it there, then chown root ${join(state, "certificates")}`,
    );
    expect(existsSync(pwned)).toBe(false);
  });

  test("a lineage.json that is 0666, rewritten by nobody: refused naming it and its mode", async () => {
    const { state, folder, pwned, planted } = await storeWithLineage();
    for (const path of [state, join(state, "certificates"), folder]) chmodSync(path, 0o755); // as main made them
    chmodSync(join(folder, "lineage.json"), 0o666);
    asNobody(`cat > ${folder}/lineage.json <<'EOF'\n${planted}\nEOF`);
    const result = await runClient(["renew", "--state", state, "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toStartWith(`${NAME}: failed: Refusing the store file ${join(folder, "lineage.json")}: its mode 0666 lets everyone write it`);
    expect(existsSync(pwned)).toBe(false);
    const listed = await runClient(["certificates", "--state", state]);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toContain(`Refusing the store file ${join(folder, "lineage.json")}`);
  });

  test("a lineage.json owned by nobody: refused; the hook never runs", async () => {
    const { state, folder, pwned, planted } = await storeWithLineage();
    writeFileSync(join(folder, "lineage.json"), planted);
    chownSync(join(folder, "lineage.json"), nobody(), nobody());
    const result = await runClient(["renew", "--state", state, "--force"]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toStartWith(`${NAME}: failed: Refusing the store file ${join(folder, "lineage.json")}: it is owned by uid ${nobody()}`);
    expect(existsSync(pwned)).toBe(false);
  });

  test("the same lineage.json owned by root and 0600 runs its hook (the check refuses only what others could write)", async () => {
    const { state, folder, pwned, planted } = await storeWithLineage();
    writeFileSync(join(folder, "lineage.json"), planted, { mode: 0o600 });
    const result = await runClient(["renew", "--state", state, "--force"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(readFileSync(pwned, "utf8")).toStartWith("uid=0(root)");
  });

  test("a store root cannot read, run by nobody: exit 1 naming the path and EACCES, not 'No certificates'", async () => {
    const { state } = await storeWithLineage();
    chmodSync(state, 0o700);
    const result = Bun.spawnSync(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", process.execPath, "run", join(ROOT, "src", "main.ts"), "certificates", "--state", state], {
      cwd: "/", stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: "/nonexistent" },
    });
    expect(result.exitCode).toBe(1);
    expect(result.stdout.toString()).not.toContain("No certificates");
    expect(result.stderr.toString().trim()).toBe(`bun-acme: error: cannot use ${join(state, "certificates")}: EACCES (permission denied)`);
  });
});

describe.skipIf(!isRoot)("a user's private group (umask 002), as Debian's OpenSSH allows it", () => {
  const asUser = (user: string, group: string, state: string) => Bun.spawnSync(
    ["setpriv", `--reuid=${user}`, `--regid=${group}`, "--clear-groups", process.execPath, "run", join(ROOT, "src", "main.ts"), "certificates", "--state", state],
    { cwd: "/", stdout: "pipe", stderr: "pipe", env: { ...process.env, HOME: "/nonexistent" } },
  );
  const groupWritableStore = (user: string) => {
    const parent = makeTempDir("bun-acme-group-");
    chmodSync(parent, 0o755);
    const state = join(parent, "store");
    mkdirSync(join(state, "certificates"), { recursive: true });
    const uid = Number(Bun.spawnSync(["id", "-u", user]).stdout.toString());
    const gid = Number(Bun.spawnSync(["id", "-g", user]).stdout.toString());
    for (const folder of [state, join(state, "certificates")]) {
      chownSync(folder, uid, gid);
      chmodSync(folder, 0o775);
    }
    return state;
  };

  test("group-writable folders of a group only its user is in (redis:redis) are accepted", () => {
    const result = asUser("redis", "redis", groupWritableStore("redis"));
    expect(result.stderr.toString()).toBe("");
    expect(result.exitCode).toBe(0);
  });

  test("group-writable folders of a group others share (nobody:nogroup, with _apt) are refused", () => {
    const state = groupWritableStore("nobody");
    const result = asUser("nobody", "nogroup", state);
    expect(result.exitCode).toBe(1);
    expect(result.stderr.toString().trim()).toStartWith(`bun-acme: error: Refusing the store folder ${state}: its mode 0775 lets its group write it`);
  });
});
