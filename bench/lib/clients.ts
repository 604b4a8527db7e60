/**
 * The clients the benchmark runs, each issuing one fresh single-name http-01 certificate from a
 * fresh account per run, with P-256 keys, against the same Pebble. Each run is wrapped in GNU
 * time for its peak RSS.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LineReader } from "../../tests/support/lines.ts";

/** What every run needs. */
export interface BenchContext {
  readonly directoryUrl: string;
  /** The root that signs Pebble's HTTPS certificate. */
  readonly caFile: string;
  readonly root: string;
}

/** One run's own measurements (the CA-side request count is taken by the harness). */
export interface ClientRun {
  readonly ms: number;
  readonly rssKb: number;
  /** bun-acme only: polls that found work still in progress, as it reports them. */
  readonly waitingPolls?: number;
}

/** A client under test. */
export interface BenchClient {
  readonly name: string;
  run(context: BenchContext, domains: readonly string[]): Promise<ClientRun>;
}

/** Runs a command to its end under GNU time: wall time and peak RSS. */
export async function timed(command: string[], env: Record<string, string>, cwd?: string): Promise<ClientRun> {
  const rssFile = join(mkdtempSync(join(tmpdir(), "bench-rss-")), "rss");
  const started = performance.now();
  const child = Bun.spawn(["/usr/bin/time", "-f", "%M", "-o", rssFile, "--", ...command], {
    env: { ...process.env, ...env },
    cwd,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${command.slice(0, 3).join(" ")} failed (${code}):\n${stdout}\n${stderr}`.slice(0, 4000));
  return { ms, rssKb: Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()) };
}

/** bun-acme through the compiled executable or `bun run`: timed from start to the certificate written. */
export function ours(name: string, command: (root: string) => string[]): BenchClient {
  return {
    name,
    async run(context, domains) {
      const out = mkdtempSync(join(tmpdir(), "bench-ours-"));
      const rssFile = join(out, "rss");
      const args = ["http01", "--dir", context.directoryUrl, "--record", "127.0.0.1", ...domains.flatMap((d) => ["--domain", d]),
        "--ca", context.caFile, "--bind", "127.0.0.1", "--dns-port", "10055", "--out", out];
      const started = performance.now();
      const child = Bun.spawn(["/usr/bin/time", "-f", "%M", "-o", rssFile, "--", ...command(context.root), ...args], { stdout: "pipe", stderr: "pipe" });
      const stdout = new LineReader(child.stdout);
      const stderr = new LineReader(child.stderr);
      try {
        await stdout.waitFor((line) => line.startsWith("Certificate for"), 600_000).catch(async () => {
          const code = await child.exited;
          await stderr.done;
          throw new Error(`${name} exited with ${code}: ${stderr.text().trim()}`);
        });
        const ms = performance.now() - started;
        const counted = await stdout.waitFor((line) => / requests to the CA \(\d+ of them polls/.test(line), 10_000);
        await fetch("http://127.0.0.1:5003/shutdown");
        await child.exited;
        await stdout.done;
        const waitingPolls = Number(/\((\d+) of them polls/.exec(counted)![1]);
        return { ms, rssKb: Number(readFileSync(rssFile, "utf8").trim().split("\n").pop()), waitingPolls };
      } finally {
        child.kill();
        rmSync(out, { recursive: true, force: true });
      }
    },
  };
}

/** `bun-acme certonly` (compiled): into a fresh store, timed from start to exit (it exits once the certificate is stored). */
export const oursCertonly: BenchClient = {
  name: "bun-acme certonly (compiled)",
  run(context, domains) {
    return inTemporaryFolder("bench-certonly-", (dir) =>
      timed(
        [join(context.root, "dist", "bun-acme"), "certonly", "--dir", context.directoryUrl, "--ca", context.caFile, ...domains.flatMap((d) => ["--domain", d]),
          "--bind", "127.0.0.1", "--http-port", "5002", "--state", dir, "--quiet"],
        {},
      )
    );
  },
};

/** Runs `work` with a fresh temporary folder, removed afterwards. */
async function inTemporaryFolder<T>(prefix: string, work: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const certbot: BenchClient = {
  name: "certbot",
  run(context, domains) {
    return inTemporaryFolder("bench-certbot-", (dir) =>
      timed(
        ["certbot", "certonly", "--non-interactive", "--standalone", "--http-01-port", "5002", "--http-01-address", "127.0.0.1",
          "--server", context.directoryUrl, "--register-unsafely-without-email", "--agree-tos", "--key-type", "ecdsa",
          "--elliptic-curve", "secp256r1", "--config-dir", join(dir, "c"), "--work-dir", join(dir, "w"), "--logs-dir", join(dir, "l"),
          ...domains.flatMap((d) => ["-d", d])],
        { REQUESTS_CA_BUNDLE: context.caFile },
      )
    );
  },
};

export const lego: BenchClient = {
  name: "lego",
  run(context, domains) {
    return inTemporaryFolder("bench-lego-", (dir) =>
      timed(
        ["lego", "--server", context.directoryUrl, "--accept-tos", "--email", "bench@example.com", "--path", dir, "--key-type", "ec256",
          ...domains.flatMap((d) => ["--domains", d]), "--http", "--http.port", "127.0.0.1:5002", "run"],
        { LEGO_CA_CERTIFICATES: context.caFile },
      )
    );
  },
};

/**
 * uacme has no option for a CA root: it trusts the system bundle, so it runs in a private mount
 * namespace where the bundle is the test root. Its hook writes tokens to a webroot that a static
 * server on 5002 serves. Both invocations (`new` account, `issue`) are timed together.
 */
export const uacme: BenchClient = {
  name: "uacme",
  async run(context, domains) {
    const dir = mkdtempSync(join(tmpdir(), "bench-uacme-"));
    const webroot = join(dir, "webroot");
    mkdirSync(webroot);
    const webServer = Bun.serve({
      hostname: "127.0.0.1",
      port: 5002,
      fetch(request) {
        const token = new URL(request.url).pathname.split("/").pop() ?? "";
        if (!/^[A-Za-z0-9_-]+$/.test(token)) return new Response(null, { status: 404 });
        const file = Bun.file(join(webroot, token));
        return file.exists().then((exists) => (exists ? new Response(file) : new Response(null, { status: 404 })));
      },
    });
    const script = join(dir, "run.sh");
    const uacmeArgs = `-a '${context.directoryUrl}' -c '${join(dir, "conf")}' -t EC -y`;
    writeFileSync(script, [
      "set -e",
      `mount --bind '${context.caFile}' /etc/ssl/certs/ca-certificates.crt`,
      `uacme ${uacmeArgs} new`,
      `UACME_CHALLENGE_PATH='${webroot}' uacme ${uacmeArgs} -h /usr/share/uacme/uacme.sh issue ${domains.join(" ")}`,
    ].join("\n"));
    try {
      return await timed(["unshare", "-m", "sh", script], {});
    } finally {
      await webServer.stop(true);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const acmeClient: BenchClient = {
  name: "acme-client (node)",
  async run(context, domains) {
    const prefix = domains[0]!.split(".")[0]!;
    return timed(["node", join(context.root, "bench", "peers", "acme-client.mjs"), context.directoryUrl, "single", String(domains.length), prefix], {
      NODE_EXTRA_CA_CERTS: context.caFile,
    });
  },
};
