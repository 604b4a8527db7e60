/**
 * The DNS server on real sockets, queried with dig (BIND's resolver tool) as an independent client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { decodePacket, EMPTY_HEADER, encodePacket, RecordType, startDnsServer, type DnsServer } from "../../src/dns/index.ts";
import { LineReader } from "../support/lines.ts";

let server: DnsServer;
const txt = new Map<string, string[]>([
  ["_acme-challenge.x.test", ["value-one", "value-two"]],
  // 30 values of 43 characters: about 1.7 kB, more than fits a 512-byte or 1232-byte UDP answer.
  ["_acme-challenge.many.test", Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, "0")}${"v".repeat(41)}`)],
]);

beforeAll(async () => {
  server = await startDnsServer({ hostname: "127.0.0.1", port: 0, zone: { address: "127.0.0.9", txtValues: (name) => txt.get(name) ?? [] } });
});
afterAll(() => server?.stop());

async function dig(...args: string[]): Promise<string> {
  const child = Bun.spawn(["dig", "@127.0.0.1", "-p", String(server.port), "+time=2", "+tries=1", ...args], { stdout: "pipe" });
  const [text] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return text;
}

describe("DNS server with dig", () => {
  test("A queries get --record for any name", async () => {
    expect((await dig("+short", "whatever.example.net", "A")).trim()).toBe("127.0.0.9");
  });

  test("TXT queries for _acme-challenge names get every value", async () => {
    expect((await dig("+short", "_acme-challenge.x.test", "TXT")).trim().split("\n").sort()).toEqual(['"value-one"', '"value-two"']);
  });

  test("other types get NOERROR with no answer, flagged authoritative", async () => {
    const output = await dig("x.test", "MX");
    expect(output).toContain("status: NOERROR");
    expect(output).toContain("ANSWER: 0");
    expect(output).toMatch(/flags: qr aa/);
  });

  test("DNS over TCP on the same port answers too", async () => {
    expect((await dig("+tcp", "+short", "tcp.example.net", "A")).trim()).toBe("127.0.0.9");
  });

  test("an answer too large for UDP is truncated (TC) and dig retries over TCP to get it whole", async () => {
    const truncated = await dig("+ignore", "+noedns", "_acme-challenge.many.test", "TXT");
    expect(truncated).toMatch(/flags: qr aa tc/);
    const whole = await dig("+short", "_acme-challenge.many.test", "TXT");
    expect(whole.trim().split("\n")).toHaveLength(30);
  });

  test("garbage datagrams do not stop the server", async () => {
    const socket = await Bun.udpSocket({});
    for (const junk of [Uint8Array.of(1), new Uint8Array(12).fill(0xff), new Uint8Array(600).fill(0xc0)]) socket.send(junk, server.port, "127.0.0.1");
    socket.close();
    expect((await dig("+short", "after.garbage.test", "A")).trim()).toBe("127.0.0.9");
  });
});

describe("hostile peers", () => {
  test("answers to closed ports (ICMP port unreachable) are counted, never printed; genuine queries are all answered", async () => {
    const child = Bun.spawn([process.execPath, "run", join(import.meta.dir, "..", "support", "dns-server-process.ts"), "0"], { stdout: "pipe", stderr: "pipe" });
    const stdout = new LineReader(child.stdout);
    const stderr = new LineReader(child.stderr);
    try {
      const port = Number((await stdout.waitFor((line) => line.startsWith("ready "), 10_000)).split(" ")[1]);
      const genuine = await udpAsker(port);
      let answered = 0;
      for (let i = 0; i < 200; i++) {
        // A query from a socket closed at once: the answer meets ICMP port unreachable.
        const gone = await Bun.udpSocket({ hostname: "127.0.0.1" });
        gone.send(query(i, "gone.test", RecordType.A), port, "127.0.0.1");
        gone.close();
        if (await genuine.ask(query(i, `genuine${i}.test`, RecordType.A))) answered++;
      }
      genuine.close();
      expect(answered).toBe(200);
      child.kill("SIGTERM");
      const errors = await stdout.waitFor((line) => line.startsWith("sendErrors "), 10_000);
      await Promise.all([child.exited, stderr.done]);
      expect(Number(errors.split(" ")[1])).toBeGreaterThan(0);
      expect(stderr.text()).toBe("");
    } finally {
      child.kill();
    }
  }, 30_000);

  test("DNS over TCP: 2,400 pipelined queries from a client that stops reading for a while all get whole answers", async () => {
    const count = 2_400;
    const queries = Array.from({ length: count }, (_, id) => {
      const message = query(id, "_acme-challenge.many.test", RecordType.TXT);
      return Uint8Array.of(message.length >> 8, message.length & 0xff, ...message);
    });
    const received = Promise.withResolvers<Set<number>>();
    const ids = new Set<number>();
    let buffer = Buffer.alloc(0);
    const socket = connect({ host: "127.0.0.1", port: server.port });
    socket.on("connect", () => {
      socket.pause(); // a slow reader: the server's writes fill the socket buffers
      socket.write(Buffer.concat(queries));
      setTimeout(() => socket.resume(), 300);
    });
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const message = decodePacket(new Uint8Array(buffer.subarray(2, 2 + buffer.readUInt16BE(0))));
        if (message.answers.length === 30) ids.add(message.header.id);
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
      if (ids.size === count) received.resolve(ids);
    });
    socket.on("close", () => received.resolve(ids));
    const timer = setTimeout(() => received.resolve(ids), 20_000); // a bound for a loaded machine, not a wait: the last answer resolves it
    const got = await received.promise;
    clearTimeout(timer);
    socket.destroy();
    expect({ answered: got.size, leftover: buffer.length }).toEqual({ answered: count, leftover: 0 });
  }, 30_000);
});

function query(id: number, name: string, type: number): Uint8Array {
  return encodePacket({ header: { ...EMPTY_HEADER, id, rd: true }, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] });
}

/** One UDP socket that sends a query and waits up to 1 s for the answer with its ID (one retry). */
async function udpAsker(port: number) {
  const waiting = new Map<number, () => void>();
  const socket = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_socket, data) {
        const bytes = new Uint8Array(data);
        waiting.get((bytes[0]! << 8) | bytes[1]!)?.();
      },
    },
  });
  return {
    async ask(message: Uint8Array): Promise<boolean> {
      const id = (message[0]! << 8) | message[1]!;
      for (let attempt = 0; attempt < 2; attempt++) {
        const answer = Promise.withResolvers<boolean>();
        waiting.set(id, () => answer.resolve(true));
        socket.send(message, port, "127.0.0.1");
        const timer = setTimeout(() => answer.resolve(false), 1_000);
        const ok = await answer.promise;
        clearTimeout(timer);
        waiting.delete(id);
        if (ok) return true;
      }
      return false;
    },
    close: () => socket.close(),
  };
}
