/**
 * The DNS server on real sockets, queried with dig (BIND's resolver tool) as an independent client.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startDnsServer, type DnsServer } from "../../src/dns/index.ts";

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
