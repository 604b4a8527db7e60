/**
 * The FAKE CA (fake-ca.ts) behind `Bun.serve` on loopback, for tests that run the real command
 * line against a CA misbehaving in ways Pebble never does.
 */
import { FakeCa, type FakeCaScript } from "./fake-ca.ts";

/** A fake CA listening on 127.0.0.1. */
export interface ServedFakeCa {
  readonly ca: FakeCa;
  /** `http://127.0.0.1:PORT/dir` (or https with `tls`). */
  readonly directoryUrl: string;
  readonly origin: string;
  stop(): Promise<void>;
}

/** The client's http-01 port in these tests (`--http-port` in {@link FAKE_CLI_PORTS}). */
export const FAKE_CLI_HTTP_PORT = 20002;

/**
 * Serves a new fake CA; plain HTTP unless `tls` is given. It fetches http-01 answers from the client's port
 * ({@link FAKE_CLI_HTTP_PORT}) and checks the key authorization, unless the script says otherwise (`http01`).
 */
export function serveFakeCa(script: FakeCaScript = {}, tls?: { cert: string; key: string }): ServedFakeCa {
  const ca = new FakeCa({ http01: FAKE_CLI_HTTP_PORT, ...script });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (request) => ca.handle(request), ...(tls ? { tls } : {}) });
  const origin = `${tls ? "https" : "http"}://127.0.0.1:${server.port}`;
  return { ca, directoryUrl: `${origin}/dir`, origin, stop: () => server.stop(true) };
}

/** Ports away from the ETH defaults, so these tests never meet a Pebble test's client. */
export const FAKE_CLI_PORTS = ["--bind", "127.0.0.1", "--dns-port", "20053", "--http-port", String(FAKE_CLI_HTTP_PORT), "--https-port", "20001", "--shutdown-port", "20003"];

/** `http01` against the served fake for `names`, writing into `out`. */
export function fakeIssueArgs(served: ServedFakeCa, out: string, names: readonly string[] = ["a.fake.test"]): string[] {
  const insecure = served.directoryUrl.startsWith("http:") ? ["--allow-insecure-http"] : [];
  return ["http01", "--dir", served.directoryUrl, ...insecure, "--record", "127.0.0.1", ...names.flatMap((name) => ["--domain", name]),
    ...FAKE_CLI_PORTS, "--out", out, "--timeout", "30"];
}

/** `args` with the value of `flag` replaced (the flag must be there). */
export function replaceFlag(args: readonly string[], flag: string, value: string): string[] {
  const index = args.indexOf(flag);
  if (index < 0) throw new Error(`no ${flag} in the arguments`);
  return args.map((arg, i) => (i === index + 1 ? value : arg));
}
