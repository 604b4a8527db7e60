/**
 * Runs openssl (an independent implementation) in a folder, failing with its stderr.
 */
export async function openssl(args: readonly string[], cwd: string): Promise<string> {
  const child = Bun.spawn(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`openssl ${args.join(" ")} failed (${code}): ${stderr}`);
  return stdout;
}
