/**
 * A real step-ca (Smallstep's CA, 0.19 as Debian packages it) for the conformance tests: an
 * openssl-made root and intermediate, an ACME provisioner, and every validation lookup sent to
 * the client's DNS server (`--resolver`). step-ca validates http-01 on port 80 and tls-alpn-01 on
 * port 443 of whatever the names resolve to: 127.0.0.1 here.
 *
 * `project/compile` builds the binary into `dist/step-ca` from tests/support/step-ca/main.go.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./client.ts";
import { LineReader } from "./lines.ts";
import { opensslIssue, opensslRoot } from "./openssl.ts";
import { busyPorts } from "./ports.ts";
import { makeTempDir } from "./temp.ts";

/** Where project/compile puts the binary. */
export const STEP_CA_BINARY = join(ROOT, "dist", "step-ca");

/** A running step-ca. */
export interface StepCa {
  readonly directoryUrl: string;
  /** The root: it signs step-ca's HTTPS certificate (what `--ca` takes) and, through the intermediate, every certificate issued. */
  readonly rootFile: string;
  readonly rootPem: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

async function makeHierarchy(dir: string): Promise<void> {
  await opensslRoot(dir, "bun-acme test step-ca root", { key: "root.key", cert: "root.crt" });
  await opensslIssue(dir, "bun-acme test step-ca intermediate", { key: "intermediate.key", cert: "intermediate.crt", rootKey: "root.key", rootCert: "root.crt" },
    "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n");
}

/**
 * Starts step-ca on 127.0.0.1:`port`, resolving names through `resolver` (the client's DNS server),
 * issuing certificates valid for `certDuration` (a Go duration, default 24h).
 *
 * @throws {Error} when the binary is missing (run project/compile) or step-ca does not come up
 */
export async function startStepCa(options: { port?: number; resolver?: string; certDuration?: string } = {}): Promise<StepCa> {
  if (!existsSync(STEP_CA_BINARY)) throw new Error(`${STEP_CA_BINARY} is missing: run project/compile (as root, it installs Go and builds it)`);
  const port = options.port ?? 9443;
  const busy = await busyPorts([port], []);
  if (busy.length > 0) throw new Error(`Cannot start step-ca: ${busy.join(", ")} already in use`);
  const dir = makeTempDir("bun-acme-step-ca-");
  await makeHierarchy(dir);
  const config = {
    root: join(dir, "root.crt"),
    crt: join(dir, "intermediate.crt"),
    key: join(dir, "intermediate.key"),
    address: `127.0.0.1:${port}`,
    dnsNames: ["127.0.0.1", "localhost"],
    logger: { format: "text" },
    db: { type: "badgerv2", dataSource: join(dir, "db") },
    authority: {
      provisioners: [{ type: "ACME", name: "acme" }],
      claims: { minTLSCertDuration: options.certDuration ?? "5m", maxTLSCertDuration: "24h", defaultTLSCertDuration: options.certDuration ?? "24h" },
    },
    tls: { minVersion: 1.2, maxVersion: 1.3 },
  };
  writeFileSync(join(dir, "ca.json"), JSON.stringify(config));
  const child = Bun.spawn([STEP_CA_BINARY, "--resolver", options.resolver ?? "127.0.0.1:10053", join(dir, "ca.json")], {
    stdout: "pipe",
    stderr: "pipe",
  });
  // step-ca logs to stderr.
  const lines = new LineReader(child.stderr);
  await lines.waitFor((line) => line.includes(`Serving HTTPS on 127.0.0.1:${port}`), 20_000).catch(async (error) => {
    child.kill();
    throw new Error(`step-ca did not start: ${(error as Error).message}\n${lines.text()}`);
  });
  const rootPem = await Bun.file(join(dir, "root.crt")).text();
  const directoryUrl = `https://127.0.0.1:${port}/acme/acme/directory`;
  // "Serving" is logged as the listener is made; wait until it answers.
  for (let attempt = 0; ; attempt++) {
    const ok = await fetch(directoryUrl, { tls: { ca: rootPem } }).then((response) => response.ok, () => false);
    if (ok) break;
    if (attempt > 200) {
      child.kill();
      throw new Error(`step-ca does not answer at ${directoryUrl}\n${lines.text()}`);
    }
    await Bun.sleep(10);
  }
  return {
    directoryUrl,
    rootFile: join(dir, "root.crt"),
    rootPem,
    log: () => lines.text(),
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
