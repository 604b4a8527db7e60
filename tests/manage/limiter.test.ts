/** The renewer's one bound on engine runs (src/manage/limiter.ts): at most `limit` at once, first come first served, a wait that can be abandoned. */
import { describe, expect, test } from "bun:test";
import { Limiter } from "../../src/manage/limiter.ts";

/** A run that ends when the test says so. */
function held() {
  let end: () => void = () => {};
  const ended = new Promise<void>((resolve) => (end = resolve));
  return { ended, end };
}

const turns = async (count = 5) => {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
};

describe("Limiter", () => {
  test("run() starts at most `limit` runs at once, the others in the order they came as each ends", async () => {
    const limiter = new Limiter(2);
    const runs = [held(), held(), held(), held()];
    const started: number[] = [];
    const done = runs.map((run, index) => limiter.run(async () => {
      started.push(index);
      await run.ended;
      return index;
    }));
    await turns();
    expect(started).toEqual([0, 1]);
    expect(limiter.inFlight).toBe(2);
    runs[1]!.end();
    await turns();
    expect(started).toEqual([0, 1, 2]);
    runs[0]!.end();
    await turns();
    expect(started).toEqual([0, 1, 2, 3]);
    expect(limiter.inFlight).toBe(2);
    runs[2]!.end();
    runs[3]!.end();
    expect(await Promise.all(done)).toEqual([0, 1, 2, 3]);
    expect(limiter.inFlight).toBe(0);
  });

  test("run() frees its turn when the work throws", async () => {
    const limiter = new Limiter(1);
    await expect(limiter.run(async () => { throw new Error("the CA is down"); })).rejects.toThrow("the CA is down");
    expect(await limiter.run(async () => "next")).toBe("next");
    expect(limiter.inFlight).toBe(0);
  });

  test("run() waiting for a turn rejects with the signal's reason when it aborts, and its work never runs", async () => {
    const limiter = new Limiter(1);
    const first = held();
    const running = limiter.run(() => first.ended);
    const stopping = new AbortController();
    let ran = false;
    const waiting = limiter.run(async () => void (ran = true), stopping.signal);
    const after = limiter.run(async () => "after");
    stopping.abort(new Error("manage() was stopped"));
    await expect(waiting).rejects.toThrow("manage() was stopped");
    first.end();
    await running;
    expect(await after).toBe("after"); // the abandoned place in the queue was not counted
    expect(ran).toBe(false);
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.run(async () => {}, stopping.signal)).rejects.toThrow("manage() was stopped");
  });

  test("new Limiter() throws RangeError for a bound that is not a whole number of at least 1", () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) expect(() => new Limiter(limit)).toThrow(RangeError);
  });
});
