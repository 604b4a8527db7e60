/**
 * RFC 2136 updates with TSIG (RFC 8945) against a real BIND 9: BIND's verdict on our signatures,
 * our verdict on BIND's, nsupdate with the same key as a second client, wrong keys, refusals,
 * CNAME delegation, and one value deleted while another client's survives (checked with dig).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { DnsUpdateError, findZone, followCname, parseTsigKey, updateTxt, type TsigKey } from "../../src/dns/index.ts";
import { digTxt, startBind, type Bind } from "../support/bind.ts";

setDefaultTimeout(30_000);

const PORT = 15353;
let bind: Bind;
let key: TsigKey;
beforeAll(async () => {
  bind = await startBind(PORT);
  key = parseTsigKey(bind.keyText);
});
afterAll(async () => {
  await bind?.stop();
});

const target = () => ({ server: "127.0.0.1", port: PORT, tsig: key });

async function nsupdate(commands: string): Promise<number> {
  const child = Bun.spawn(["nsupdate", "-k", bind.keyFile], { stdin: new TextEncoder().encode(`server 127.0.0.1 ${PORT}\n${commands}\nsend\n`), stdout: "pipe", stderr: "pipe" });
  return child.exited;
}

describe("parseTsigKey()", () => {
  test("reads tsig-keygen's key statement and algorithm:name:secret", () => {
    expect(key).toMatchObject({ name: "acme-key", algorithm: "hmac-sha256" });
    expect(key.secret.length).toBe(32);
    expect(parseTsigKey("hmac-sha512:other-key.:c2VjcmV0")).toMatchObject({ name: "other-key", algorithm: "hmac-sha512" });
    expect(() => parseTsigKey("hmac-md5:k:c2VjcmV0")).toThrow("Cannot use TSIG algorithm \"hmac-md5\"");
  });
});

describe("updates against BIND", () => {
  test("the zone is found from the SOA; an add signed by us is accepted, BIND's signed answer verifies; a delete removes only that value", async () => {
    expect(await findZone("_acme-challenge.www.example.test", target())).toBe("example.test");
    await updateTxt("add", "example.test", "_acme-challenge.www.example.test", "ours", target());
    expect(await nsupdate("update add _acme-challenge.www.example.test 60 TXT theirs")).toBe(0);
    expect(await digTxt(PORT, "_acme-challenge.www.example.test")).toEqual(["ours", "theirs"]);
    await updateTxt("delete", "example.test", "_acme-challenge.www.example.test", "ours", target());
    expect(await digTxt(PORT, "_acme-challenge.www.example.test")).toEqual(["theirs"]);
    // nsupdate with the same key deletes what it added: the two clients agree on the key.
    expect(await nsupdate("update delete _acme-challenge.www.example.test TXT theirs")).toBe(0);
    expect(await digTxt(PORT, "_acme-challenge.www.example.test")).toEqual([]);
  });

  test("a CNAME at _acme-challenge sends the update to the target's zone", async () => {
    const name = await followCname("_acme-challenge.alias.example.test", target());
    expect(name).toBe("alias.acme-dns.test");
    expect(await findZone(name, target())).toBe("acme-dns.test");
    await updateTxt("add", "acme-dns.test", name, "delegated", target());
    expect(await digTxt(PORT, "alias.acme-dns.test")).toEqual(["delegated"]);
    await updateTxt("delete", "acme-dns.test", name, "delegated", target());
  });

  test("a wrong secret: BIND answers NOTAUTH with TSIG BADSIG, and the error names the key and the server", async () => {
    const wrong = { ...key, secret: new Uint8Array(32).fill(7) };
    const error = await updateTxt("add", "example.test", "_acme-challenge.bad.example.test", "x", { ...target(), tsig: wrong }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DnsUpdateError);
    expect((error as Error).message).toBe(
      `The name server 127.0.0.1:${PORT} refused to add the TXT record _acme-challenge.bad.example.test in zone example.test with TSIG key "acme-key" (hmac-sha256): NOTAUTH, TSIG BADSIG`,
    );
    expect(await digTxt(PORT, "_acme-challenge.bad.example.test")).toEqual([]);
  });

  test("a key BIND does not know: NOTAUTH with TSIG BADKEY; without a key: REFUSED", async () => {
    const unknown = { ...key, name: "nobody-key" };
    const badKey = await updateTxt("add", "example.test", "_acme-challenge.x.example.test", "x", { ...target(), tsig: unknown }).catch((caught: Error) => caught.message);
    expect(badKey).toEndWith(': NOTAUTH, TSIG BADKEY');
    const unsigned = await updateTxt("add", "example.test", "_acme-challenge.x.example.test", "x", { server: "127.0.0.1", port: PORT }).catch((caught: Error) => caught.message);
    expect(unsigned).toBe(`The name server 127.0.0.1:${PORT} refused to add the TXT record _acme-challenge.x.example.test in zone example.test without TSIG: REFUSED`);
  });

  test("a zone the server does not serve is named", async () => {
    const error = await findZone("_acme-challenge.elsewhere.invalid", target()).catch((caught: Error) => caught.message);
    expect(error).toStartWith(`127.0.0.1:${PORT} is not authoritative for a zone holding _acme-challenge.elsewhere.invalid`);
  });
});

describe("exchange()", () => {
  test("an answer truncated over UDP (TC) is fetched again over TCP, whole", async () => {
    const { startDnsServer, exchange, EMPTY_HEADER } = await import("../../src/dns/index.ts");
    const values = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(2, "0")}${"v".repeat(41)}`);
    const server = await startDnsServer({ hostname: "127.0.0.1", port: 0, zone: { address: "127.0.0.1", txtValues: () => values } });
    try {
      const { packet } = await exchange(
        { header: { ...EMPTY_HEADER, id: 4242 }, questions: [{ name: "_acme-challenge.big.test", type: 16, class: 1 }], answers: [], authorities: [], additionals: [] },
        { server: "127.0.0.1", port: server.port },
      );
      expect(packet.header.tc).toBe(false);
      expect(packet.answers).toHaveLength(30);
    } finally {
      server.stop();
    }
  });
});

describe("other keys and servers", () => {
  test("hmac-sha512: BIND accepts our signature and ours verifies its answer", async () => {
    const other = await startBind(15354, { algorithm: "hmac-sha512" });
    try {
      const sha512 = parseTsigKey(other.keyText);
      expect(sha512.algorithm).toBe("hmac-sha512");
      await updateTxt("add", "example.test", "_acme-challenge.sha512.example.test", "five-twelve", { server: "127.0.0.1", port: 15354, tsig: sha512 });
      expect(await digTxt(15354, "_acme-challenge.sha512.example.test")).toEqual(["five-twelve"]);
    } finally {
      await other.stop();
    }
  });

  test("an unreachable server: one line naming it, within the timeout", async () => {
    const started = Date.now();
    const error = await findZone("_acme-challenge.x.example.test", { server: "127.0.0.1", port: 1, timeoutMs: 900 }).catch((caught: Error) => caught.message);
    expect(error).toBe("The name server 127.0.0.1:1 cannot be reached (ECONNREFUSED)");
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
