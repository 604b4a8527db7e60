/**
 * The client side of DNS under hostile answers: 20,000 random and mutated answers (seeded) given
 * to the TSIG check, every one of which it must reject, and a name server that answers every query with garbage or oversized
 * messages. Nothing throws but the client's own one-line errors.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { DnsClientError, EMPTY_HEADER, encodePacket, exchange, parseTsigKey, signMessage, verifyAnswer } from "../../src/dns/index.ts";
import { fuzzMessage, prng } from "../support/fuzz.ts";
import { signAnswer } from "../support/tsig-signer.ts";

setDefaultTimeout(60_000);

const key = parseTsigKey(`hmac-sha256:fuzz-key:${Buffer.alloc(32, 1).toString("base64")}`);
const query = (id: number) => ({ header: { ...EMPTY_HEADER, id }, questions: [{ name: "fuzz.test", type: 16, class: 1 }], answers: [], authorities: [], additionals: [] });

describe("verifyAnswer() under fuzzing", () => {
  test("20,000 random and mutated answers: never an exception, and every one rejected but the answer as signed", async () => {
    const random = prng(0x75_19);
    const timeSigned = 1_800_000_000;
    const request = await signMessage(encodePacket(query(1)), key, timeSigned * 1000);
    const unsigned = encodePacket({ ...query(1), header: { ...query(1).header, qr: true, aa: true } });
    const answer = signAnswer(unsigned, { keyName: key.name, algorithm: key.algorithm, secret: key.secret, requestMac: request.mac, timeSigned });
    const now = timeSigned * 1000;
    expect((await verifyAnswer(answer, key, request.mac, now)).verified).toBe(true);
    const accepted: string[] = [];
    let verdicts = 0;
    for (let i = 0; i < 20_000; i++) {
      const mutated = i % 4 === 0 ? answer.slice() : fuzzMessage(random);
      // One to three distinct bytes really changed: never the header ID (TSIG restores the original ID, RFC 8945
      // §4.3.2; the client matches IDs itself), never only a letter's case (names compare case-insensitively).
      const indices = new Set<number>();
      for (let flips = 1 + Math.floor(random() * 3); flips > 0; flips--) indices.add(2 + Math.floor(random() * (mutated.length - 2)));
      for (const index of indices) {
        const before = mutated[index]!;
        let after = before;
        while (after === before || (after ^ before) === 0x20) after = Math.floor(random() * 256);
        mutated[index] = after;
      }
      const cut = i % 3 === 0 ? mutated.subarray(0, Math.floor(random() * mutated.length)) : mutated;
      const verdict = await verifyAnswer(cut, key, request.mac, now);
      if (verdict.verified) accepted.push(Buffer.from(cut).toString("hex"));
      verdicts++;
    }
    expect(verdicts).toBe(20_000);
    expect(accepted).toEqual([]);
  });
});

describe("a name server that answers garbage", () => {
  let server: { readonly port: number; close(): void };
  const random = prng(0xbad);
  beforeAll(async () => {
    // Every answer: the query's ID, then random bytes (sometimes 60 KiB of them).
    server = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, data, port, address) {
          const size = random() < 0.2 ? 60_000 : 12 + Math.floor(random() * 200);
          const answer = new Uint8Array(size).map(() => Math.floor(random() * 256));
          answer[0] = data[0]!;
          answer[1] = data[1]!;
          answer[2] = answer[2]! & ~0x02; // not truncated: stay on UDP
          socket.send(answer, port, address);
        },
      },
    });
  });
  afterAll(() => server?.close());

  test("100 queries: each ends in an answer or a DnsClientError naming the server, within the timeout", async () => {
    const outcomes = { answered: 0, refused: 0 };
    for (let i = 0; i < 100; i++) {
      try {
        await exchange(query(1000 + i), { server: "127.0.0.1", port: server.port, timeoutMs: 600, tsig: key });
        outcomes.answered++;
      } catch (error) {
        expect(error).toBeInstanceOf(DnsClientError);
        expect((error as Error).message).toStartWith(`The name server 127.0.0.1:${server.port} `);
        outcomes.refused++;
      }
    }
    expect(outcomes.answered + outcomes.refused).toBe(100);
    expect(outcomes.refused).toBeGreaterThan(0);
  });
});
