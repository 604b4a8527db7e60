/**
 * Checks a live TLS endpoint with openssl (an independent implementation): chain verification
 * against a root, host name, and the certificates presented.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./temp.ts";

/** What openssl saw in one handshake. */
export interface HandshakeReport {
  readonly verified: boolean;
  readonly verifyLine: string;
  /** Subjects of the presented certificates, leaf first. */
  readonly subjects: readonly string[];
  readonly output: string;
}

/** Connects to `127.0.0.1:port` with SNI `serverName` and verifies the chain against `rootPem`. */
export async function opensslHandshake(port: number, serverName: string, rootPem: string): Promise<HandshakeReport> {
  const dir = makeTempDir("bun-acme-verify-");
  const rootFile = join(dir, "root.pem");
  writeFileSync(rootFile, rootPem);
  const child = Bun.spawn(
    ["openssl", "s_client", "-connect", `127.0.0.1:${port}`, "-servername", serverName, "-verify_hostname", serverName,
      "-CAfile", rootFile, "-showcerts", "-verify_return_error"],
    { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const output = stdout + stderr;
  const verifyLine = /Verify return code: .*/.exec(output)?.[0] ?? "(no verify line)";
  const subjects = [...output.matchAll(/^\s*\d+ s:(.*)$/gm)].map((match) => match[1]!.trim());
  return { verified: verifyLine === "Verify return code: 0 (ok)", verifyLine, subjects, output };
}
