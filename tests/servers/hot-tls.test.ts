/**
 * HotTlsServer swaps certificates under load from clients that never retry (Python's
 * http.client: keep-alive GETs, a new connection per GET, keep-alive POSTs): no request fails in
 * either mode, each mode run in a private network namespace with net.ipv4.tcp_migrate_req set as
 * the test needs (the host's own setting does not matter). And the mechanism itself, step by step:
 * a retired backend answers `Connection: close`, new connections meet the new certificate, and the
 * handler sees the client's address through the relay.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { connect, type TLSSocket } from "node:tls";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HotTlsServer, isKeyChecked, markKeyChecked, type ServedCertificate } from "../../src/servers/index.ts";
import { chainPem, createTestRoot } from "../support/certificates.ts";
import { servedLeaf } from "../support/served-leaf.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

/** Runs tests/support/swap-under-load.ts in a new network namespace with tcp_migrate_req = `migrate`. */
async function swapUnderLoad(mode: string, migrate: 0 | 1) {
  const script = join(import.meta.dir, "..", "support", "swap-under-load.ts");
  const child = Bun.spawn(["unshare", "-n", "sh", "-c",
    `ip link set lo up && sysctl -qw net.ipv4.tcp_migrate_req=${migrate} && exec "${process.execPath}" "${script}" ${mode} 6 400`], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const line = out.trim().split("\n").pop() ?? "";
  if (child.exitCode !== 0 || !line.startsWith("{")) throw new Error(`swap-under-load exited ${child.exitCode}: ${err.slice(-600)}`);
  return JSON.parse(line) as { mode: string; swaps: number; draining: number; fresh: boolean[]; ok: number; failed: number; errors: Record<string, number>; serials: string[] };
}

describe("HotTlsServer under load from clients that do not retry", () => {
  test("tcp_migrate_req = 0: auto picks the relay; six swaps, no failed request, each new certificate met by the next connection, old backends stopped", async () => {
    const run = await swapUnderLoad("auto", 0);
    expect(run.mode).toBe("relay");
    expect(run.errors).toEqual({});
    expect(run.failed).toBe(0);
    expect(run.ok).toBeGreaterThan(50);
    expect(run.swaps).toBe(6);
    expect(run.fresh).toEqual([true, true, true, true, true, true]);
    expect(run.serials.length).toBeGreaterThanOrEqual(4); // the clients' own connections crossed the swaps
    expect(run.draining).toBe(0);
  });

  test("tcp_migrate_req = 1: auto picks reuse-port; six swaps, no failed request, each new certificate met once the old listener's grace ends", async () => {
    const run = await swapUnderLoad("auto", 1);
    expect(run.mode).toBe("reuse-port");
    expect(run.errors).toEqual({});
    expect(run.failed).toBe(0);
    expect(run.ok).toBeGreaterThan(50);
    expect(run.fresh).toEqual([true, true, true, true, true, true]);
    expect(run.serials.length).toBeGreaterThanOrEqual(4);
  });
});

/** A raw TLS connection that sends requests one after another and reads each whole response. */
class RawClient {
  private buffered = "";
  /** The serial of the certificate the server presented (kept: it cannot be read once closed). */
  readonly serial: string;
  private waiting: (() => void) | undefined;
  closed = false;
  readonly socket: TLSSocket;
  private constructor(socket: TLSSocket) {
    this.socket = socket;
    this.serial = socket.getPeerCertificate().serialNumber;
    socket.on("data", (chunk: Buffer) => {
      this.buffered += chunk.toString("latin1");
      this.waiting?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.waiting?.();
    });
  }

  static open(port: number, rootPem: string, servername = "swap.test"): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, servername, ca: rootPem }, () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends a GET and resolves with the status line, headers (lower-case) and body (Content-Length framed). */
  async get(path = "/"): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: swap.test\r\n\r\n`);
    for (;;) {
      const end = this.buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const [statusLine, ...lines] = this.buffered.slice(0, end).split("\r\n");
        const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
        const length = Number(headers["content-length"] ?? 0);
        if (this.buffered.length >= end + 4 + length) {
          const body = this.buffered.slice(end + 4, end + 4 + length);
          this.buffered = this.buffered.slice(end + 4 + length);
          return { status: Number(statusLine!.split(" ")[1]), headers, body };
        }
      }
      if (this.closed) throw new Error("connection closed before a whole response");
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}

describe("HotTlsServer: how a swap moves clients", () => {
  let server: HotTlsServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  for (const mode of ["relay", "reuse-port"] as const) {
    test(`${mode}: a keep-alive connection keeps its certificate, is told Connection: close on its next response, and a new connection meets the new certificate`, async () => {
      const root = await createTestRoot("swap test root");
      const rootPem = chainPem([root.der]);
      const [first, second] = [await servedLeaf(root, ["swap.test"]), await servedLeaf(root, ["swap.test"])];
      // In reuse-port mode the retired listener keeps accepting (by hash) until its grace period ends.
      server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode, drainMs: mode === "relay" ? 10_000 : 300, fetch: () => new Response("hello\n") });
      await server.serve([first]);
      const before = await RawClient.open(server.port, rootPem);
      const firstAnswer = await before.get();
      expect(firstAnswer.headers.connection).toBeUndefined();

      await server.serve([second]);
      const retired = await before.get(); // the same connection, after the swap: answered, then closed by the server
      expect(retired.status).toBe(200);
      expect(retired.headers.connection).toBe("close");
      expect(server.draining).toBe(1);
      if (mode === "reuse-port") {
        for (let waited = 0; server.draining > 0 && waited < 5_000; waited += 20) await Bun.sleep(20);
        expect(server.draining).toBe(0);
      }

      const after = await RawClient.open(server.port, rootPem);
      expect(after.serial).not.toBe(before.serial);
      expect((await after.get()).headers.connection).toBeUndefined();
      after.socket.end();
    });
  }

  test("relay: the handler's requestIP() is the client's address and port, not the relay's", async () => {
    const root = await createTestRoot("swap test root");
    server = new HotTlsServer({
      hostname: "127.0.0.1", port: 0, mode: "relay",
      fetch: (request, bunServer) => {
        const seen = bunServer.requestIP(request);
        return new Response(`${seen?.address} ${seen?.port}`);
      },
    });
    await server.serve([await servedLeaf(root, ["swap.test"])]);
    const client = await RawClient.open(server.port, chainPem([root.der]));
    const answer = await client.get();
    expect(answer.body).toBe(`127.0.0.1 ${client.socket.localPort}`);
    client.socket.end();
  });
});

describe("HotTlsServer: certificates arriving together", () => {
  test("serve() calls made before the next swap begins are folded into it with the latest set, and every call resolves", async () => {
    const root = await createTestRoot("swap test root");
    const leaves = await Promise.all(["one.test", "two.test", "three.test", "four.test"].map((name) => servedLeaf(root, [name])));
    const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "relay", fetch: () => new Response("hello\n") });
    try {
      await server.serve(leaves.slice(0, 1));
      // As manage() calls it when certificates arrive in quick succession: each call names the whole set so far.
      await Promise.all([2, 3, 4].map((count) => server.serve(leaves.slice(0, count))));
      expect(server.swaps).toBe(1); // one swap for the three calls, not three
      for (const name of ["one.test", "four.test"]) {
        const client = await RawClient.open(server.port, chainPem([root.der]), name);
        expect((await client.get()).status).toBe(200);
        client.socket.end();
      }
      await server.serve(leaves.slice(0, 2)); // alone: a swap of its own
      expect(server.swaps).toBe(2);
    } finally {
      await server.stop();
    }
  });
});

describe("HotTlsServer: one bad certificate cannot take the others down", () => {
  test("a certificate whose key is another's is left out and reported; the other names keep being served", async () => {
    const root = await createTestRoot("swap test root");
    const good = await servedLeaf(root, ["good.test"]);
    const other = await servedLeaf(root, ["bad.test"]);
    const mismatched = { ...other, keyPem: good.keyPem };
    const junk = { names: ["junk.test"], chainPem: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", keyPem: good.keyPem };
    const rejected: string[] = [];
    const server = new HotTlsServer({
      hostname: "127.0.0.1", port: 0, mode: "relay", fetch: () => new Response("hello\n"),
      onRejected: (certificate, reason) => rejected.push(`${certificate.names[0]}: ${reason}`),
    });
    try {
      await server.serve([mismatched, good, junk]);
      expect(rejected.map((line) => line.split(":")[0])).toEqual(["bad.test", "junk.test"]);
      expect(rejected[0]).toBe("bad.test: the private key is not the certificate's");
      const client = await RawClient.open(server.port, chainPem([root.der]), "good.test");
      expect((await client.get()).status).toBe(200);
      client.socket.end();
    } finally {
      await server.stop();
    }
  });
});

describe("HotTlsServer: bind() before any certificate", () => {
  /** Whether a TLS handshake with `name` completes, and the subject's CN presented (unverified). */
  const handshake = (port: number, name: string) => new Promise<{ subject?: string; error?: string }>((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername: name, rejectUnauthorized: false }, () => {
      resolve({ subject: String(socket.getPeerCertificate().subject?.CN) });
      socket.destroy();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });

  test("relay: bind() listens without a backend (a connection is closed, nothing presented), the first serve() is presented by the first backend, and a taken port is a ServerStartError", async () => {
    const root = await createTestRoot("swap test root");
    const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "relay", fetch: () => new Response("hello\n") });
    try {
      await server.bind();
      expect((await handshake(server.port, "bind.test")).subject).toBeUndefined(); // closed by the relay: no placeholder made
      await server.serve([await servedLeaf(root, ["bind.test"])]);
      const client = await RawClient.open(server.port, chainPem([root.der]), "bind.test");
      expect((await client.get()).status).toBe(200);
      client.socket.end();
      expect(server.swaps).toBe(0); // the stored certificate went into the first backend, no placeholder swapped out
      await server.servePlaceholderIfIdle();
      expect(server.swaps).toBe(0); // something is served: nothing to do
      const taken = new HotTlsServer({ hostname: "127.0.0.1", port: server.port, mode: "relay", fetch: () => new Response("hello\n") });
      expect(await taken.bind().then(() => "bound", (error: Error) => error.name)).toBe("ServerStartError");
    } finally {
      await server.stop();
    }
  });

  test("reuse-port: bind() holds the port without a backend (a connection is closed, nothing presented), the first serve() is presented by the first backend on that port without a swap, and a taken port is a ServerStartError", async () => {
    const root = await createTestRoot("swap test root");
    const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "reuse-port", fetch: () => new Response("hello\n") });
    try {
      await server.bind();
      const port = server.port;
      expect(port).toBeGreaterThan(0);
      expect((await handshake(port, "bind.test")).subject).toBeUndefined(); // closed by the listener holding the port: no placeholder
      await server.serve([await servedLeaf(root, ["bind.test"])]);
      expect(server.port).toBe(port);
      expect(server.swaps).toBe(0); // the stored certificate went into the first backend, no placeholder swapped out
      // The holding listener is closed once the backend listens: every connection now meets the certificate.
      for (let attempt = 0; attempt < 8; attempt++) expect((await handshake(port, "bind.test")).subject).toBe("bind.test");
      const client = await RawClient.open(port, chainPem([root.der]), "bind.test");
      expect((await client.get()).status).toBe(200);
      client.socket.end();
      const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); // without SO_REUSEPORT
      const taken = new HotTlsServer({ hostname: "127.0.0.1", port: blocker.port, mode: "reuse-port", fetch: () => new Response("hello\n") });
      expect(await taken.bind().then(() => "bound", (error: Error) => error.name)).toBe("ServerStartError");
      blocker.stop(true);
    } finally {
      await server.stop();
    }
  });

  for (const mode of ["relay", "reuse-port"] as const) {
    test(`${mode}: servePlaceholderIfIdle() after bind() with nothing served presents the placeholder`, async () => {
      const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode, fetch: () => new Response("hello\n") });
      try {
        await server.bind();
        await server.servePlaceholderIfIdle();
        expect((await handshake(server.port, "nothing.test")).subject).toBe("bun-acme: no certificate for this name");
        expect(server.swaps).toBe(0);
      } finally {
        await server.stop();
      }
    });
  }
});

describe("HotTlsServer: the key check", () => {
  test("a certificate manage() marks (markKeyChecked) is taken as checked, its key not imported again; one that only says keyChecked: true is checked, and a mismatched pair left out and reported", async () => {
    const root = await createTestRoot("swap test root");
    const good = await servedLeaf(root, ["good.test"]);
    const mismatched = { ...(await servedLeaf(root, ["other.test"])), keyPem: good.keyPem };
    const outcome = async (certificate: ServedCertificate) => {
      const rejected: string[] = [];
      const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "relay", fetch: () => new Response("hello\n"), onRejected: (left) => rejected.push(left.names[0]!) });
      try {
        const served = await server.serve([good, certificate]).then(() => "served", (error: Error) => error.name);
        return { rejected, served };
      } finally {
        await server.stop();
      }
    };
    expect(await outcome(mismatched)).toEqual({ rejected: ["other.test"], served: "served" });
    // A library user's object cannot vouch for itself: the public shape has no such flag any more.
    expect(await outcome({ ...mismatched, keyChecked: true } as ServedCertificate)).toEqual({ rejected: ["other.test"], served: "served" });
    // Vouched for by manage(): not checked here, so nothing is left out (Bun's own check of the pair is all that is left).
    const vouched = markKeyChecked({ ...mismatched });
    expect(isKeyChecked(vouched)).toBe(true);
    expect(isKeyChecked({ ...vouched })).toBe(false); // the mark is the object's, not its fields'
    expect((await outcome(vouched)).rejected).toEqual([]);
  });
});

describe("HotTlsServer: client certificates", () => {
  test("no client is asked for a certificate (TLS 1.2 and 1.3, a served name and the placeholder), although each backend is given a ca to skip Bun's root store", async () => {
    const root = await createTestRoot("client certificate test root");
    const good = await servedLeaf(root, ["good.test"]);
    const dir = makeTempDir("hot-tls-client-cert-");
    writeFileSync(join(dir, "root.pem"), chainPem([root.der]));
    const server = new HotTlsServer({ hostname: "127.0.0.1", port: 0, mode: "relay", fetch: () => new Response("hello\n") });
    try {
      await server.bind();
      await server.serve([good]);
      for (const [serverName, version] of [["good.test", "-tls1_3"], ["good.test", "-tls1_2"], ["unknown.test", "-tls1_3"]] as const) {
        const child = Bun.spawn(["openssl", "s_client", "-connect", `127.0.0.1:${server.port}`, "-servername", serverName, version, "-msg", "-CAfile", join(dir, "root.pem")],
          { stdin: new TextEncoder().encode("Q\n"), stdout: "pipe", stderr: "pipe" });
        const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
        const output = out + err;
        expect(output).toContain(", Finished"); // the handshake completed
        expect(output).toContain(serverName === "good.test" ? "Verify return code: 0 (ok)" : "bun-acme: no certificate for this name");
        expect(output).not.toContain("CertificateRequest");
        expect(output).toContain("No client certificate CA names sent");
      }
    } finally {
      await server.stop();
    }
  });
});
