import { writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Runs openssl (an independent implementation) in a folder, failing with its stderr.
 */
export async function openssl(args: readonly string[], cwd: string): Promise<string> {
  const child = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${code}): ${stderr}`);
  return stdout;
}

const P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A self-signed P-256 CA root (30 days) made by openssl in `dir`: key in `keyFile`, certificate in `certFile`. */
export async function opensslRoot(dir: string, commonName: string, files: { key: string; cert: string }): Promise<void> {
  await openssl(["req", "-x509", ...P256, "-keyout", files.key, "-out", files.cert, "-days", "30", "-subj", `/CN=${commonName}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
}

/**
 * A P-256 key and a 30-day certificate for it, signed by a root `opensslRoot` made in the same
 * folder, with `extensions` (the lines of an openssl extension file).
 */
export async function opensslIssue(dir: string, commonName: string, files: { key: string; cert: string; rootKey: string; rootCert: string }, extensions: string): Promise<void> {
  await openssl(["req", ...P256, "-keyout", files.key, "-out", `${files.cert}.csr`, "-subj", `/CN=${commonName}`], dir);
  writeFileSync(join(dir, `${files.cert}.ext`), extensions);
  await openssl(["x509", "-req", "-in", `${files.cert}.csr`, "-CA", files.rootCert, "-CAkey", files.rootKey, "-CAcreateserial", "-out", files.cert,
    "-days", "30", "-extfile", `${files.cert}.ext`], dir);
}
