/**
 * TSIG answer verification (RFC 8945 §5.3) as an attacker would test it: a real BIND 9's signed answer is the golden
 * input (it verifies, and tests/support/tsig-signer.ts reproduces it byte for byte), then forged answers (another
 * secret), tampered ones (every byte changed in turn), another key name or algorithm, answers signed outside the
 * fudge and unsigned answers to signed queries are each rejected, by verifyAnswer() and by updateTxt() behind it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  decodePacket,
  DnsUpdateError,
  EMPTY_HEADER,
  encodePacket,
  parseTsigKey,
  RecordType,
  signMessage,
  updateTxt,
  verifyAnswer,
  type TsigKey,
} from "../../src/dns/index.ts";
import { startBind, type Bind } from "../support/bind.ts";
import { signAnswer, stripTsig, timeSignedOf } from "../support/tsig-signer.ts";

setDefaultTimeout(30_000);

const PORT = 15383; // its own: update.test.ts uses 15353-15354, rfc2136.test.ts 15363 and 15373
let bind: Bind;
let key: TsigKey;
/** A signed SOA query for example.test, BIND's signed answer, and the query's MAC. */
let golden: { answer: Uint8Array; requestMac: Uint8Array; timeSigned: number };

/** Sends one datagram to 127.0.0.1:port and resolves with the first answer. */
async function udpExchange(bytes: Uint8Array, port: number): Promise<Uint8Array> {
  const { promise, resolve } = Promise.withResolvers<Uint8Array>();
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", socket: { data: (_socket, data) => resolve(new Uint8Array(data)) } });
  socket.send(bytes, port, "127.0.0.1");
  const answer = await Promise.race([promise, Bun.sleep(5_000).then(() => undefined)]);
  socket.close();
  if (!answer) throw new Error(`no answer from 127.0.0.1:${port}`);
  return answer;
}

const soaQuery = (id: number) => encodePacket({
  header: { ...EMPTY_HEADER, id },
  questions: [{ name: "example.test", type: RecordType.SOA, class: 1 }],
  answers: [],
  authorities: [],
  additionals: [],
});

const signing = (overrides: Partial<Parameters<typeof signAnswer>[1]> = {}) => ({
  keyName: key.name, algorithm: key.algorithm, secret: key.secret, requestMac: golden.requestMac, timeSigned: golden.timeSigned, ...overrides,
});
const at = (seconds: number) => seconds * 1000;

beforeAll(async () => {
  bind = await startBind(PORT);
  key = parseTsigKey(bind.keyText);
  const signed = await signMessage(soaQuery(0x5150), key);
  const answer = await udpExchange(signed.bytes, PORT);
  golden = { answer, requestMac: signed.mac, timeSigned: timeSignedOf(answer, key.name, key.algorithm) };
});
afterAll(async () => {
  await bind?.stop();
});

describe("verifyAnswer() against BIND's signed answer", () => {
  test("BIND's answer verifies, and the test signer reproduces it byte for byte (golden)", async () => {
    expect(decodePacket(golden.answer).header).toMatchObject({ id: 0x5150, qr: true, rcode: 0 });
    expect(Math.abs(golden.timeSigned - Date.now() / 1000)).toBeLessThan(60);
    expect(await verifyAnswer(golden.answer, key, golden.requestMac)).toEqual({ verified: true, error: undefined, reason: "verified" });
    expect(signAnswer(stripTsig(golden.answer, key.name), signing())).toEqual(golden.answer);
  });

  test("a forged answer (the same content signed with another secret) is rejected", async () => {
    const forged = signAnswer(stripTsig(golden.answer, key.name), signing({ secret: new Uint8Array(32).fill(7) }));
    expect(await verifyAnswer(forged, key, golden.requestMac)).toMatchObject({ verified: false, reason: "its MAC does not verify with the key" });
    // BIND's own answer checked with another secret under the same name.
    const otherSecret: TsigKey = { ...key, secret: new Uint8Array(32).fill(9) };
    expect((await verifyAnswer(golden.answer, otherSecret, golden.requestMac)).verified).toBe(false);
  });

  test("an answer to another request (another request MAC) is rejected", async () => {
    const otherRequest = await signMessage(soaQuery(0x5150), key, Date.now() + 1000);
    expect((await verifyAnswer(golden.answer, key, otherRequest.mac)).verified).toBe(false);
  });

  test("every single byte of BIND's answer changed after signing (but the header ID, which TSIG restores): rejected each time", async () => {
    const accepted: number[] = [];
    for (let index = 2; index < golden.answer.length; index++) {
      for (const mask of [0x01, 0x80]) {
        const tampered = golden.answer.slice();
        tampered[index]! ^= mask;
        if ((await verifyAnswer(tampered, key, golden.requestMac)).verified) accepted.push(index);
      }
    }
    expect(accepted).toEqual([]);
  });

  test("an answer cut short, or with bytes after its TSIG record, is rejected", async () => {
    for (let length = 0; length < golden.answer.length; length++) {
      expect((await verifyAnswer(golden.answer.subarray(0, length), key, golden.requestMac)).verified).toBe(false);
    }
    const trailing = Uint8Array.from([...golden.answer, 0]);
    expect(await verifyAnswer(trailing, key, golden.requestMac)).toMatchObject({ verified: false, reason: "its TSIG record is malformed" });
  });

  test("an answer signed under another key name (same secret) is rejected, as is a key of another name", async () => {
    const renamed = signAnswer(stripTsig(golden.answer, key.name), signing({ keyName: "other-key" }));
    expect(await verifyAnswer(renamed, key, golden.requestMac)).toMatchObject({ verified: false, reason: 'it is signed with another key ("other-key", not "acme-key")' });
    expect((await verifyAnswer(golden.answer, { ...key, name: "other-key" }, golden.requestMac)).verified).toBe(false);
    // The owner name alone changed, the MAC computed under the right name: still not this key's record.
    const reowned = signAnswer(stripTsig(golden.answer, key.name), signing({ ownerName: "other-key" }));
    expect((await verifyAnswer(reowned, key, golden.requestMac)).verified).toBe(false);
    // Names compare case-insensitively (RFC 8945 §4.3.3 canonical form): the same key in capitals verifies.
    const capitals = signAnswer(stripTsig(golden.answer, key.name), signing({ ownerName: "ACME-KEY" }));
    expect((await verifyAnswer(capitals, key, golden.requestMac)).verified).toBe(true);
  });

  test("an answer signed with another algorithm is rejected", async () => {
    expect((await verifyAnswer(golden.answer, { ...key, algorithm: "hmac-sha512" }, golden.requestMac)).verified).toBe(false);
    const sha512 = signAnswer(stripTsig(golden.answer, key.name), signing({ algorithm: "hmac-sha512" }));
    expect(await verifyAnswer(sha512, key, golden.requestMac)).toMatchObject({ verified: false, reason: "it is signed with another algorithm (hmac-sha512, not hmac-sha256)" });
  });

  test("outside the fudge (300 s either way) BIND's answer is rejected; at its edge it verifies", async () => {
    const { answer, requestMac, timeSigned } = golden;
    expect((await verifyAnswer(answer, key, requestMac, at(timeSigned + 300))).verified).toBe(true);
    expect((await verifyAnswer(answer, key, requestMac, at(timeSigned - 300))).verified).toBe(true);
    expect(await verifyAnswer(answer, key, requestMac, at(timeSigned + 301))).toMatchObject({ verified: false, reason: "it was signed 301 s ago, outside its fudge of 300 s (are both clocks right?)" });
    expect((await verifyAnswer(answer, key, requestMac, at(timeSigned - 301))).verified).toBe(false);
    // A replayed answer an hour old, and one whose signer claims a fudge of 0 and is a second off.
    expect((await verifyAnswer(answer, key, requestMac, at(timeSigned + 3600))).verified).toBe(false);
    const noFudge = signAnswer(stripTsig(answer, key.name), signing({ fudge: 0 }));
    expect((await verifyAnswer(noFudge, key, requestMac, at(timeSigned))).verified).toBe(true);
    expect((await verifyAnswer(noFudge, key, requestMac, at(timeSigned + 1))).verified).toBe(false);
  });

  test("BIND's answer with its TSIG record removed (an unsigned answer to a signed query) is rejected", async () => {
    expect(await verifyAnswer(stripTsig(golden.answer, key.name), key, golden.requestMac)).toEqual({ verified: false, error: undefined, reason: "the answer is not signed" });
  });
});

/**
 * A FAKE name server (an attacker on the path): it answers every update with NOERROR, and the test chooses how that
 * answer is signed. No real server sends these; that is the point.
 */
describe("updateTxt() rejects what the fake server answers", () => {
  type Answerer = (unsigned: Uint8Array, requestMac: Uint8Array) => Uint8Array;
  let answerWith: Answerer = (unsigned) => unsigned;
  let server: { readonly port: number; close(): void };

  beforeAll(async () => {
    server = await Bun.udpSocket({
      hostname: "127.0.0.1",
      socket: {
        data(socket, data, port, address) {
          const request = new Uint8Array(data);
          // Our requests end with MAC (32 bytes for hmac-sha256), original ID, error, other length 0.
          const requestMac = request.slice(request.length - 6 - 32, request.length - 6);
          const query = decodePacket(request);
          const unsigned = encodePacket({ header: { ...query.header, qr: true, rcode: 0 }, questions: query.questions, answers: [], authorities: [], additionals: [] });
          socket.send(answerWith(unsigned, requestMac), port, address);
        },
      },
    });
  });
  afterAll(() => server?.close());

  const target = () => ({ server: "127.0.0.1", port: server.port, tsig: key, timeoutMs: 2_000 });
  const now = () => Math.floor(Date.now() / 1000);
  const cases: [string, Answerer, string][] = [
    ["unsigned", (unsigned) => unsigned, "the answer is not signed"],
    ["forged (another secret)", (unsigned, requestMac) => signAnswer(unsigned, signing({ requestMac, timeSigned: now(), secret: new Uint8Array(32).fill(1) })), "its MAC does not verify"],
    ["tampered (one byte changed after signing)", (unsigned, requestMac) => {
      const signed = signAnswer(unsigned, signing({ requestMac, timeSigned: now() }));
      signed[13]! ^= 0x01; // the zone's first letter: "example.test" becomes "dxample.test"
      return signed;
    }, "its MAC does not verify"],
    ["signed under another key name", (unsigned, requestMac) => signAnswer(unsigned, signing({ requestMac, timeSigned: now(), keyName: "other-key" })), "another key"],
    ["signed 10 minutes ago", (unsigned, requestMac) => signAnswer(unsigned, signing({ requestMac, timeSigned: now() - 600 })), "outside its fudge"],
  ];

  test("a correctly signed answer is accepted (the fake server can sign)", async () => {
    answerWith = (unsigned, requestMac) => signAnswer(unsigned, signing({ requestMac, timeSigned: now() }));
    await updateTxt("add", "example.test", "_acme-challenge.example.test", "v", target());
  });

  test.each(cases)("an answer %s: DnsUpdateError naming why", async (_label, answerer, reason) => {
    answerWith = answerer;
    const error = await updateTxt("add", "example.test", "_acme-challenge.example.test", "v", target()).then(() => undefined, (caught: unknown) => caught);
    expect(error).toBeInstanceOf(DnsUpdateError);
    expect((error as Error).message).toStartWith(`The name server 127.0.0.1:${server.port} answered the update of _acme-challenge.example.test with TSIG key "acme-key" (hmac-sha256), but `);
    expect((error as Error).message).toContain(reason);
  });
});
