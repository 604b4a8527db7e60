/**
 * The order a fleet instance takes its first certificates in (StartQueue), on its own: which
 * certificates it picks, which it leaves as likely another instance's, and that those stay listed
 * to be awaited while they are open.
 */
import { describe, expect, test } from "bun:test";
import { StartQueue } from "../../src/manage/start-queue.ts";

const names = Array.from({ length: 12 }, (_, index) => `a${index}`);

/** Every certificate `queue` hands out until it has none. */
function drain(queue: StartQueue<string>): string[] {
  const picked: string[] = [];
  for (let name = queue.next(); name; name = queue.next()) picked.push(name);
  return picked;
}

describe("StartQueue", () => {
  test("next() walks on from its random start and, guessing nothing (spread 0), hands out every open certificate once", () => {
    const done = new Set(["a3"]);
    const queue = new StartQueue(names, { open: (name) => !done.has(name), heard: () => false }, () => 0.5, 0);
    const picked = drain(queue);
    expect(picked.slice(0, 6)).toEqual(["a6", "a7", "a8", "a9", "a10", "a11"]);
    expect(picked.toSorted()).toEqual(names.filter((name) => name !== "a3").toSorted());
    expect(queue.untried()).toEqual([]);
  });

  test("a certificate whose announced save is being checked is not picked, and the `spread` after it are left as likely its saver's; untried() lists them all while open", () => {
    const heard = new Set(["a2"]);
    const queue = new StartQueue(names, { open: () => true, heard: (name) => heard.has(name) }, () => 0, 4);
    expect(drain(queue)).toEqual(["a0", "a1", "a8", "a9", "a10", "a11", "a7"]);
    // Left to be awaited, not dropped: should the save not be taken up, each is still tried.
    expect(queue.untried()).toEqual(["a2", "a3", "a4", "a5", "a6"]);
  });

  test("a certificate met locked makes those less than `spread` away on either side likely held; a later pick goes to the longest stretch beyond them", () => {
    const queue = new StartQueue(names, { open: () => true, heard: () => false }, () => 0, 4);
    expect([queue.next(), queue.next()]).toEqual(["a0", "a1"]);
    queue.collided("a1"); // a1 was locked by another instance
    expect(drain(queue)).toEqual(["a6", "a7", "a8", "a9", "a10", "a11", "a5"]);
    expect(queue.untried()).toEqual(["a2", "a3", "a4"]);
  });

  test("a certificate another instance saved makes the `spread` after it likely held, not those before it", () => {
    const saved = new Set(["a5"]);
    const queue = new StartQueue(names, { open: (name) => !saved.has(name), heard: () => false }, () => 0, 2);
    expect(drain(queue)).toEqual(["a0", "a1", "a2", "a3", "a4", "a9", "a10", "a11", "a8"]);
    expect(queue.untried()).toEqual(["a6", "a7"]);
  });
});
