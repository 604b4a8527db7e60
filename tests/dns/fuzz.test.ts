/**
 * Fuzzing the DNS decoder and server with 100,000 random and mutated messages (seeded).
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeHeader, decodePacket, DnsFormatError, EMPTY_HEADER, encodePacket, RCode, RecordType, respondToQuery } from "../../src/dns/index.ts";
import { fuzzMessage, prng } from "../support/fuzz.ts";
import { LineReader } from "../support/lines.ts";

setDefaultTimeout(60_000);

const MESSAGES = 100_000;
const zone = { address: "127.0.0.9", txtValues: (name: string) => (name === "_acme-challenge.fuzz.test" ? ["fuzz-value"] : []) };

describe("respondToQuery() under fuzzing", () => {
  test(`${MESSAGES} random and mutated messages: never throws, FORMERR wherever a query header is readable and the rest is not`, () => {
    const random = prng(0xac3e);
    let formerr = 0;
    let answered = 0;
    for (let i = 0; i < MESSAGES; i++) {
      const bytes = fuzzMessage(random);
      const response = respondToQuery(bytes, zone, "udp");
      let decodeError: unknown;
      try {
        decodePacket(bytes);
      } catch (error) {
        decodeError = error;
      }
      if (decodeError !== undefined) expect(decodeError).toBeInstanceOf(DnsFormatError);
      const isQueryWithHeader = bytes.length >= 12 && (bytes[2]! & 0x80) === 0;
      if (!isQueryWithHeader) {
        expect(response).toBeUndefined();
        continue;
      }
      expect(response).toBeDefined();
      const decoded = decodePacket(response!);
      expect(decoded.header.id).toBe(decodeHeader(bytes).id);
      expect(decoded.header.qr).toBe(true);
      expect(response!.length).toBeLessThanOrEqual(1232);
      if (decodeError !== undefined) {
        expect(decoded.header.rcode).toBe(RCode.FORMERR);
        formerr++;
      } else {
        answered++;
      }
    }
    // The corpus exercises both paths substantially.
    expect(formerr).toBeGreaterThan(MESSAGES / 10);
    expect(answered).toBeGreaterThan(MESSAGES / 20);
  });
});

describe("the DNS server process under fuzzing", () => {
  test(`${MESSAGES} datagrams: never crashes, memory stays bounded, valid queries keep getting right answers`, async () => {
    const child = Bun.spawn([process.execPath, "run", join(import.meta.dir, "..", "support", "dns-server-process.ts"), "0"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      const ready = await new LineReader(child.stdout).waitFor((line) => line.startsWith("ready "), 10_000);
      const port = Number(ready.split(" ")[1]);
      const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024;

      // A client that sends a valid query and awaits its answer (re-sent if a datagram is lost).
      const answers = new Map<number, (bytes: Uint8Array) => void>();
      const client = await Bun.udpSocket({
        socket: {
          data(_socket, data) {
            const bytes = new Uint8Array(data);
            if (bytes.length >= 2) answers.get((bytes[0]! << 8) | bytes[1]!)?.(bytes);
          },
        },
      });
      const ask = async (id: number, name: string, type: number) => {
        const query = encodePacket({ header: { ...EMPTY_HEADER, id, rd: true }, questions: [{ name, type, class: 1 }], answers: [], authorities: [], additionals: [] });
        for (let attempt = 0; attempt < 5; attempt++) {
          const answer = Promise.withResolvers<Uint8Array>();
          answers.set(id, answer.resolve);
          client.send(query, port, "127.0.0.1");
          const timer = setTimeout(() => answer.reject(new Error("lost")), 500);
          try {
            return decodePacket(await answer.promise);
          } catch {
            continue; // a datagram lost under load: ask again, as any resolver would
          } finally {
            clearTimeout(timer);
            answers.delete(id);
          }
        }
        throw new Error(`no answer to ${name} after 5 tries: the server is down`);
      };

      const random = prng(0xd15);
      const batch = 100;
      let baseline = 0;
      for (let sent = 0, check = 1; sent < MESSAGES; check++) {
        for (let i = 0; i < batch; i++, sent++) client.send(fuzzMessage(random), port, "127.0.0.1");
        const a = await ask(check & 0xffff, `check${check}.fuzz.test`, RecordType.A);
        expect(a.answers.map((record) => record.data)).toEqual([{ type: "A", address: "127.0.0.9" }]);
        if (check % 100 === 0) {
          const txt = await ask((check + 0x8000) & 0xffff, "_acme-challenge.fuzz.test", RecordType.TXT);
          expect(txt.answers.map((record) => record.data)).toEqual([{ type: "TXT", texts: ["fuzz-value"] }]);
        }
        if (check === 50) baseline = rss();
      }
      client.close();
      expect(child.exitCode).toBeNull(); // still running
      expect(rss() - baseline).toBeLessThan(64 * 1024 * 1024);
    } finally {
      child.kill();
      await child.exited;
    }
  });
});
