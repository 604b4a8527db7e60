/**
 * Challenge answers among Redis instances (src/store/redis-answers.ts), against a real
 * redis-server from Debian: heard answers cost no store command, and an instance that did not hear
 * a presented answer (it started later, or the presenter's subscription was down when it asked)
 * still answers it, never a 404.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { RedisClient } from "bun";
import type { Challenge } from "../../src/acme/index.ts";
import { Http01Solver } from "../../src/challenges/index.ts";
import { redirectingHandler, SharedHttp01Solver } from "../../src/manage/index.ts";
import { RedisCertificateStore } from "../../src/store/index.ts";
import { RedisAnswers } from "../../src/store/redis-answers.ts";
import { startRedis, type Redis } from "../support/redis.ts";

setDefaultTimeout(30_000);

const PORT = 16383;
let redis: Redis;
beforeAll(async () => {
  redis = await startRedis(PORT);
});
afterAll(async () => {
  await redis?.stop();
});

const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-p", String(PORT), ...args]).stdout.toString().trim();
const stored = (prefix: string, token: string) => cli("EXISTS", `${prefix}challenge:${token}`) === "1";
/** Redis's own count of one command since the last `CONFIG RESETSTAT`. */
const calls = (command: string) => Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(cli("INFO", "commandstats"))?.[1] ?? 0);
/** The ids of the connections subscribed to something. */
const subscribers = () => [...cli("CLIENT", "LIST", "TYPE", "pubsub").matchAll(/\bid=(\d+)/g)].map((match) => match[1]!);

/** A token as a CA makes them: base64url, 256 bits. */
const HTTP01_TOKEN = "Vh2b4cRk1YvUq0nJ8s-3dX_7wQeLmPzT6aGfHiKoN9E";

/**
 * A FAKE slow link (no real component delays one client's replies by a set time): a TCP relay to
 * the redis-server that hands the client what Redis sends `delayMs` late, as a process too busy
 * to read its socket sooner would read it. What the client sends goes through at once.
 */
function slowLink(delayMs: number) {
  type Ends = { upstream?: Bun.Socket<undefined>; early: Uint8Array[] };
  const listener = Bun.listen<Ends>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(client) {
        client.data = { early: [] };
        void Bun.connect({
          hostname: "127.0.0.1",
          port: PORT,
          socket: {
            data: (_, chunk) => void setTimeout(() => client.write(chunk), delayMs),
            close: () => void setTimeout(() => client.end(), delayMs),
          },
        }).then((upstream) => {
          client.data.upstream = upstream;
          for (const chunk of client.data.early) upstream.write(chunk);
        }, () => client.end());
      },
      data(client, chunk) {
        const copy = new Uint8Array(chunk);
        if (client.data.upstream) client.data.upstream.write(copy);
        else client.data.early.push(copy);
      },
      close(client) {
        client.data.upstream?.end();
      },
    },
  });
  return { url: `redis://127.0.0.1:${listener.port}`, stop: () => listener.stop(true) };
}

async function instances<T>(count: number, prefix: string, work: (stores: RedisCertificateStore[]) => Promise<T>): Promise<T> {
  const stores = Array.from({ length: count }, () => new RedisCertificateStore(redis.url, { prefix }));
  try {
    return await work(stores);
  } finally {
    for (const store of stores) store.close();
  }
}

describe("challenge answers on Redis", () => {
  test("an answer heard by every instance listening is answered by each from memory: not stored, not read", async () => {
    await instances(3, "heard:", async ([presenter, ...others]) => {
      const shared = [presenter!, ...others].map((store) => store.sharedChallenges());
      await Promise.all(shared.map((answers) => answers.ready!()));
      cli("CONFIG", "RESETSTAT");
      await shared[0]!.publish("tok-heard", "tok-heard.thumb", 60_000);
      for (const answers of shared) expect(await answers.answer("tok-heard")).toBe("tok-heard.thumb");
      expect(stored("heard:", "tok-heard")).toBe(false);
      expect(calls("get")).toBe(0);
      expect(calls("set")).toBe(0);
    });
  });

  test("an instance that was not listening when an answer was published (it started later) answers it: the presenter stores it when asked", async () => {
    await instances(2, "late:", async ([presenter, late]) => {
      const mine = presenter!.sharedChallenges();
      await mine.ready!();
      await mine.publish("tok-late", "tok-late.thumb", 60_000);
      expect(stored("late:", "tok-late")).toBe(false);
      const theirs = late!.sharedChallenges();
      await theirs.ready!();
      expect(await theirs.answer("tok-late")).toBe("tok-late.thumb");
      expect(stored("late:", "tok-late")).toBe(true);
    });
  });

  test("the http-01 port of an instance started after another presented answers the CA with the key authorization, not 404", async () => {
    await instances(2, "http01:", async ([presenter, late]) => {
      const shared = presenter!.sharedChallenges();
      await shared.ready!();
      const challenge: Challenge = { type: "http-01", url: "https://ca.test/chall/1", status: "pending", token: HTTP01_TOKEN };
      await new SharedHttp01Solver(new Http01Solver(), shared).present({ type: "dns", value: "a.example" }, challenge, `${HTTP01_TOKEN}.thumb`);
      // The late instance's port, as manage() and the daemon build it: its own solver never presented this challenge.
      const answer = redirectingHandler(new Http01Solver(), late!.sharedChallenges(), 443, () => true);
      const response = await answer(new Request(`http://a.example/.well-known/acme-challenge/${HTTP01_TOKEN}`, { headers: { host: "a.example" } }));
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(`${HTTP01_TOKEN}.thumb`);
    });
  });

  test("a presenter whose subscription dropped stores, once listening again, what it published: an instance that asked meanwhile gets it", async () => {
    await instances(2, "dropped:", async ([presenter, asker]) => {
      const mine = presenter!.sharedChallenges();
      await mine.ready!();
      await mine.publish("tok-dropped", "tok-dropped.thumb", 60_000);
      // The presenter's is the only subscription: killed, the asker's need reaches no one who presents.
      expect(subscribers()).toHaveLength(1);
      cli("CLIENT", "KILL", "ID", subscribers()[0]!);
      expect(await asker!.sharedChallenges().answer("tok-dropped")).toBe("tok-dropped.thumb");
    });
  });

  test("withdrawn, an answer is no longer given by the instances that heard it, and a new one for the same key is", async () => {
    await instances(2, "withdrawn:", async ([presenter, other]) => {
      const [mine, theirs] = [presenter!.sharedChallenges(), other!.sharedChallenges()];
      await Promise.all([mine.ready!(), theirs.ready!()]);
      await mine.publish("tls-alpn-01:a.example", "{\"first\":1}", 60_000);
      expect(await theirs.answer("tls-alpn-01:a.example")).toBe("{\"first\":1}");
      await mine.withdraw("tls-alpn-01:a.example");
      // Heard in the order published: once the next answer has arrived there, so has the withdrawal before it.
      await mine.publish("tls-alpn-01:b.example", "{\"other\":1}", 60_000);
      expect(await theirs.answer("tls-alpn-01:b.example")).toBe("{\"other\":1}");
      expect(await theirs.answer("tls-alpn-01:a.example")).toBeUndefined();
      await mine.publish("tls-alpn-01:a.example", "{\"second\":2}", 60_000);
      expect(await theirs.answer("tls-alpn-01:a.example")).toBe("{\"second\":2}");
    });
  });

  test("an instance whose long lookups are all taken (by made-up tokens) and whose messages arrive late still answers a presented answer, not 404", async () => {
    const link = slowLink(400);
    const presenter = new RedisCertificateStore(redis.url, { prefix: "busy:" });
    const busy = new RedisCertificateStore(link.url, { prefix: "busy:" });
    try {
      const [mine, theirs] = [presenter.sharedChallenges(), busy.sharedChallenges()];
      await Promise.all([mine.ready!(), theirs.ready!()]);
      const port = redirectingHandler(new Http01Solver(), theirs, 443, () => true);
      const get = (token: string) => port(new Request(`http://a.example/.well-known/acme-challenge/${token}`, { headers: { host: "a.example" } }));
      // Four tokens nobody presented take the long ways (each waits for a need's answer for seconds).
      const strangers = Array.from({ length: 4 }, (_, index) => get(`${HTTP01_TOKEN.slice(0, 40)}x${index}`));
      const challenge: Challenge = { type: "http-01", url: "https://ca.test/chall/busy", status: "pending", token: HTTP01_TOKEN };
      await new SharedHttp01Solver(new Http01Solver(), mine).present({ type: "dns", value: "a.example" }, challenge, `${HTTP01_TOKEN}.thumb`);
      // The CA asks the busy instance at once: its message is still 400 ms away, the store does not hold it.
      const response = await get(HTTP01_TOKEN);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe(`${HTTP01_TOKEN}.thumb`);
      expect(stored("busy:", HTTP01_TOKEN)).toBe(false);
      expect((await Promise.all(strangers)).map((answer) => answer.status)).toEqual([404, 404, 404, 404]);
    } finally {
      presenter.close();
      busy.close();
      link.stop();
    }
  });

  test("an instance whose subscription just dropped, with its long lookups all taken by made-up tokens, still answers a presented answer, not 404", async () => {
    // The asker connects as a Redis user that, once its subscription is cut, may not subscribe again: deaf until the end.
    cli("ACL", "SETUSER", "deaf-asker", "on", ">deaf-pass", "~*", "&*", "+@all");
    const presenter = new RedisCertificateStore(redis.url, { prefix: "deaf:" });
    const asker = new RedisCertificateStore(redis.url.replace("redis://", "redis://deaf-asker:deaf-pass@"), { prefix: "deaf:" });
    try {
      const [mine, theirs] = [presenter.sharedChallenges(), asker.sharedChallenges()];
      await Promise.all([mine.ready!(), theirs.ready!()]);
      cli("ACL", "SETUSER", "deaf-asker", "-subscribe");
      const asking = /\bid=(\d+)[^\n]*\buser=deaf-asker\b/.exec(cli("CLIENT", "LIST", "TYPE", "pubsub"))?.[1];
      expect(cli("CLIENT", "KILL", "ID", asking!)).toBe("1");
      // Published while the asker hears nothing: the presenter, listening, stores nothing unless asked.
      await mine.publish("tok-deaf", "tok-deaf.thumb", 60_000);
      const strangers = Array.from({ length: 4 }, (_, index) => theirs.answer(`made-up-${index}`));
      expect(await theirs.answer("tok-deaf")).toBe("tok-deaf.thumb");
      expect(await Promise.all(strangers)).toEqual([undefined, undefined, undefined, undefined]);
    } finally {
      presenter.close();
      asker.close();
      cli("ACL", "DELUSER", "deaf-asker");
    }
  });

  test("an answer a crashed presenter left under a server name is not given once another presents that name again, though its messages arrive late: an old answer heard is confirmed by a sync", async () => {
    const link = slowLink(400);
    const KEY = "tls-alpn-01:a.example";
    // heardFreshMs 0: every answer heard counts as old (30 s by default), so that the test need not wait for one to age.
    const instance = (url: string) => {
      const client = new RedisClient(url);
      const answers = new RedisAnswers({ url, clientOptions: {}, channel: "stale:answers", key: (token) => `stale:challenge:${token}`, send: (command, args) => client.send(command, args), heardFreshMs: 0 });
      return { shared: answers.shared(), close: () => (answers.close(), client.close()) };
    };
    const [crashed, late, next] = [instance(redis.url), instance(link.url), instance(redis.url)];
    try {
      await Promise.all([crashed, late, next].map(({ shared }) => shared.ready!()));
      await crashed.shared.publish(KEY, '{"first":1}', 60_000);
      expect(await late.shared.answer(KEY)).toBe('{"first":1}');
      crashed.close(); // gone without withdrawing its answer: the late instance still holds it
      await next.shared.withdraw(KEY);
      await next.shared.publish(KEY, '{"second":2}', 60_000);
      // The CA asks the late instance at once: the withdrawal and the new answer are still 400 ms away.
      expect(await late.shared.answer(KEY)).toBe('{"second":2}');
    } finally {
      late.close();
      next.close();
      link.stop();
    }
  });

  test("requests from the Internet for made-up challenge paths cost the fleet little: none for what is not a token, and a bounded long way for tokens nobody presented", async () => {
    await instances(2, "strangers:", async ([young, other]) => {
      await Promise.all([young!.sharedChallenges().ready!(), other!.sharedChallenges().ready!()]);
      const port = redirectingHandler(new Http01Solver(), young!.sharedChallenges(), 443, () => true);
      const get = (token: string) => port(new Request(`http://a.example/.well-known/acme-challenge/${token}`, { headers: { host: "a.example" } }));
      cli("CONFIG", "RESETSTAT");
      // Not the shape of a token (RFC 8555 section 8.3: base64url, 128 bits at least): 404 without a command.
      for (const path of ["short", "x".repeat(300), "has.a.dot.in.it.and.is.long.enough", "%2e%2e%2fetc%2fpasswd-long-enough-to-pass"]) expect((await get(path)).status).toBe(404);
      expect(calls("get") + calls("publish")).toBe(0);
      // Forty well-formed tokens nobody presented, at once, to an instance listening for less than an answer's life:
      // each would go the long way (a sync and a need to every instance, reads for 5 s); at most 4 do, the rest share
      // two syncs and cost a read, a need and two more reads each (this subscription may have missed their answers).
      const statuses = await Promise.all(Array.from({ length: 40 }, async (_, index) => (await get(`${HTTP01_TOKEN.slice(0, 40)}${String(index).padStart(3, "0")}`)).status));
      expect(statuses.every((status) => status === 404)).toBe(true);
      expect(calls("publish")).toBeLessThanOrEqual(2 * 4 + 2 + 36);
      expect(calls("get")).toBeLessThanOrEqual(4 * 8 + 3 * 36);
    });
  });
});
