/**
 * A real BIND 9 (`named` from Debian's bind9) for the dynamic-update tests: a primary for
 * `example.test` and `acme-dns.test` on a loopback port, updates allowed with a TSIG key made by
 * `tsig-keygen`, run in the foreground from a temporary folder.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LineReader } from "./lines.ts";
import { makeTempDir } from "./temp.ts";

/** A running named. */
export interface Bind {
  readonly port: number;
  /** The key file `tsig-keygen` wrote (BIND's `key` statement). */
  readonly keyFile: string;
  readonly keyText: string;
  readonly dir: string;
  readonly log: () => string;
  stop(): Promise<void>;
}

const ZONE = (zone: string, extra: string) => `$TTL 60
@ IN SOA ns1.example.test. hostmaster.example.test. ( 1 60 60 600 60 )
  IN NS ns1.example.test.
${extra}
`;

/**
 * Starts named on 127.0.0.1:`port` with a key of `algorithm`. With `recursion`, it also answers
 * as a resolver would for its own zones (following a CNAME from one into the other), which a CA's
 * validation lookups need for CNAME delegation.
 */
export async function startBind(port: number, options: { algorithm?: string; extraNs?: string; recursion?: boolean } = {}): Promise<Bind> {
  const dir = makeTempDir("bun-acme-bind-");
  const keygen = Bun.spawnSync(["tsig-keygen", "-a", options.algorithm ?? "hmac-sha256", "acme-key"]);
  const keyText = keygen.stdout.toString();
  writeFileSync(join(dir, "acme-key.conf"), keyText);
  writeFileSync(join(dir, "db.example.test"), ZONE("example.test", `ns1 IN A 127.0.0.1
${options.extraNs ?? ""}
_acme-challenge.alias IN CNAME alias.acme-dns.test.
`));
  writeFileSync(join(dir, "db.acme-dns.test"), ZONE("acme-dns.test", ""));
  writeFileSync(join(dir, "named.conf"), `include "${join(dir, "acme-key.conf")}";
options {
  directory "${dir}";
  pid-file "${join(dir, "named.pid")}";
  session-keyfile "${join(dir, "session.key")}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion ${options.recursion ? "yes; allow-recursion { any; }" : "no"};
  dnssec-validation no;
  notify no;
  allow-transfer { any; };
};
controls { };
zone "example.test" { type primary; file "${join(dir, "db.example.test")}"; allow-update { key "acme-key"; }; };
zone "acme-dns.test" { type primary; file "${join(dir, "db.acme-dns.test")}"; allow-update { key "acme-key"; }; };
`);
  const child = Bun.spawn(["named", "-g", "-c", join(dir, "named.conf")], { stdout: "ignore", stderr: "pipe" });
  const lines = new LineReader(child.stderr);
  await lines.waitFor((line) => line.includes("running"), 15_000).catch((error) => {
    child.kill();
    throw new Error(`named did not start: ${(error as Error).message}\n${lines.text()}`);
  });
  // "running" can come before every zone answers; a secondary asking too early gets SERVFAIL.
  for (const zone of ["example.test", "acme-dns.test"]) {
    for (let attempt = 0; ; attempt++) {
      const dig = Bun.spawnSync(["dig", "@127.0.0.1", "-p", String(port), "+short", "+time=1", "+tries=1", zone, "SOA"]);
      if (dig.stdout.toString().trim() !== "") break;
      if (attempt > 100) throw new Error(`named does not serve ${zone}:\n${lines.text()}`);
      await Bun.sleep(50);
    }
  }
  return {
    port,
    keyFile: join(dir, "acme-key.conf"),
    keyText,
    dir,
    log: () => lines.text(),
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}

/** `dig @127.0.0.1 -p PORT +short NAME TXT`: the values, sorted. */
export async function digTxt(port: number, name: string, server = "127.0.0.1"): Promise<string[]> {
  const child = Bun.spawn(["dig", `@${server}`, "-p", String(port), "+short", "+time=2", "+tries=1", name, "TXT"], { stdout: "pipe" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return text.trim().split("\n").filter(Boolean).map((line) => line.replace(/^"|"$/g, "")).sort();
}
