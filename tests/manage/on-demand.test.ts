/**
 * OnDemand's limits, with an injected clock and a counting `add` in place of an issuance: the
 * minute's budget under concurrency, deny entries and SNI compared as DNS compares names, and one
 * issuance per name whatever its spelling.
 */
import { describe, expect, test } from "bun:test";
import { comparableName, OnDemand, type OnDemandOptions, type OnDemandWork } from "../../src/manage/on-demand.ts";
import type { Untimed } from "../../src/lifecycle/index.ts";
import type { ManageEvent } from "../../src/manage/index.ts";
import type { ServedCertificate } from "../../src/servers/index.ts";

/**
 * An OnDemand with a counting stand-in for manage()'s work: `stored` names are held by the store
 * (loaded, nothing ordered), `savedMeanwhile` ones are not when asked but another instance saves
 * them before the order (taken up, nothing ordered); every other name is ordered.
 */
function gate(options: OnDemandOptions, store: { stored?: readonly string[]; savedMeanwhile?: readonly string[] } = {}) {
  let now = Date.parse("2026-11-30T00:00:00Z");
  const added: string[][] = [];
  const ordered: string[] = [];
  const events: Untimed<ManageEvent>[] = [];
  const onDemand = new OnDemand(options, "http-01", (event) => events.push(event), { now: () => now });
  const reads: string[] = [];
  const add: OnDemandWork = {
    held: async (names) => (reads.push(names[0]!), store.stored?.includes(names[0]!) ?? false),
    add: async (names): Promise<{ served: ServedCertificate; ordered: boolean }> => {
      added.push([...names]);
      const order = !store.stored?.includes(names[0]!) && !store.savedMeanwhile?.includes(names[0]!);
      if (order) ordered.push(names[0]!);
      return { served: { names, chainPem: "CHAIN", keyPem: "KEY" }, ordered: order };
    },
  };
  return { onDemand, add, added, ordered, events, reads, advance: (ms: number) => (now += ms) };
}

const after = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("OnDemand", () => {
  test("40 concurrent new names, allow taking 100 ms, maxPerMinute 5: 16 asked at most, exactly 5 admitted; a minute later 5 more", async () => {
    let asked = 0;
    const { onDemand, add, added, advance, events } = gate({ allow: async () => (asked++, await after(100), true), maxPerMinute: 5 });
    const names = Array.from({ length: 40 }, (_, index) => `n${index}.od.test`);
    const served = await Promise.all(names.map((name) => onDemand.certificateFor(name, add)));
    expect(added).toHaveLength(5);
    expect(served.filter(Boolean)).toHaveLength(5);
    expect(asked).toBe(16);
    // The 24 beyond the asks at once are said in one line, not one each.
    const warnings = events.flatMap((event) => (event.type === "warning" ? [event.message] : []));
    expect(warnings.filter((message) => message.includes("waiting for allow's answer"))).toEqual(["on demand: 1 name(s) refused: 16 names were already waiting for allow's answer"]);
    advance(60_001);
    await Promise.all(names.map((name) => onDemand.certificateFor(name, add)));
    expect(added).toHaveLength(10);
  });

  test("a name allow refuses gives its share of the budget back", async () => {
    const { onDemand, add, added } = gate({ allow: (name) => !name.startsWith("no"), maxPerMinute: 2 });
    await Promise.all(["no1.od.test", "no2.od.test", "no3.od.test"].map((name) => onDemand.certificateFor(name, add)));
    await Promise.all(["yes1.od.test", "yes2.od.test", "yes3.od.test"].map((name) => onDemand.certificateFor(name, add)));
    expect(added).toEqual([["yes1.od.test"], ["yes2.od.test"]]);
  });

  test("deny entries and SNI compared as DNS does: case, trailing dot, wildcard, Unicode", async () => {
    let asked = 0;
    const { onDemand, add, added } = gate({ allow: () => (asked++, true), deny: ["Bad.Od.Sec.Test", "*.Deny.Od.Sec.Test.", "bücher.example"] });
    for (const sni of ["bad.od.sec.test", "BAD.OD.SEC.TEST.", "x.deny.od.sec.test", "X.Y.DENY.od.sec.test.", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE."]) {
      expect(await onDemand.certificateFor(sni, add)).toBeUndefined();
    }
    expect(asked).toBe(0);
    expect(added).toEqual([]);
    expect(() => gate({ allow: () => true, deny: ["bad name/"] })).toThrow(TypeError);
  });

  test("a trailing-dot SNI gets the certificate under that spelling; every other spelling finds it, with no second issuance or allow", async () => {
    let asked = 0;
    const { onDemand, add, added } = gate({ allow: () => (asked++, true) });
    const first = await onDemand.certificateFor("Shop.Od.Test.", add);
    expect(added).toEqual([["shop.od.test"]]);
    expect(first?.names).toEqual(["shop.od.test", "shop.od.test."]);
    for (const sni of ["shop.od.test.", "shop.od.test", "SHOP.OD.TEST"]) expect((await onDemand.certificateFor(sni, add))?.chainPem).toBe("CHAIN");
    expect(added).toHaveLength(1);
    expect(asked).toBe(1);
  });

  test("12 names whose certificates the store holds, maxPerMinute 10, asked at once: all 12 served, no share of the budget taken; then 12 new names: 10 ordered, 2 refused", async () => {
    const stored = Array.from({ length: 12 }, (_, index) => `kept${index}.od.test`);
    const { onDemand, add, added, ordered, events } = gate({ allow: () => true, maxPerMinute: 10 }, { stored });
    const served = await Promise.all(stored.map((name) => onDemand.certificateFor(name, add)));
    expect(served.map((certificate) => certificate?.names[0])).toEqual(stored);
    expect(added).toHaveLength(12);
    const fresh = Array.from({ length: 12 }, (_, index) => `new${index}.od.test`);
    const obtained = await Promise.all(fresh.map((name) => onDemand.certificateFor(name, add)));
    expect(obtained.filter(Boolean)).toHaveLength(10);
    expect(ordered).toHaveLength(10);
    expect(events.filter((event) => event.type === "warning").map((event) => event.message)).toEqual([
      "on demand: new10.od.test refused, 10 certificates already ordered on demand this minute",
      "on demand: new11.od.test refused, 10 certificates already ordered on demand this minute",
    ]);
  });

  test("names allow refuses cost no store read while the budget lasts (each gives its share back); once it is spent, only the store's names are served", async () => {
    const { onDemand, add, added, reads } = gate({ allow: (name) => name.startsWith("ok"), maxPerMinute: 2 }, { stored: ["ok-kept.od.test"] });
    const strangers = Array.from({ length: 40 }, (_, index) => `x${index}.od.test`);
    for (const name of strangers) expect(await onDemand.certificateFor(name, add)).toBeUndefined();
    expect(reads).toEqual([]);
    expect(await Promise.all(["ok1.od.test", "ok2.od.test"].map((name) => onDemand.certificateFor(name, add)))).toHaveLength(2);
    expect(await onDemand.certificateFor("ok3.od.test", add)).toBeUndefined();
    expect((await onDemand.certificateFor("ok-kept.od.test", add))?.names).toEqual(["ok-kept.od.test"]);
    expect(reads).toEqual(["ok3.od.test", "ok-kept.od.test"]);
    expect(added.map((names) => names[0])).toEqual(["ok1.od.test", "ok2.od.test", "ok-kept.od.test"]);
  });

  test("strangers' names waiting on a slow allow neither read the store nor hold a share: an allowed name asked meanwhile is obtained", async () => {
    const { onDemand, add, ordered, reads, events } = gate({ allow: async (name) => (await after(200), name.startsWith("yes")), maxPerMinute: 5 });
    const strangers = Array.from({ length: 15 }, (_, index) => onDemand.certificateFor(`x${index}.od.test`, add));
    const customer = await onDemand.certificateFor("yes-customer.od.test", add);
    expect(customer?.names).toEqual(["yes-customer.od.test"]);
    expect((await Promise.all(strangers)).filter(Boolean)).toHaveLength(0);
    expect(ordered).toEqual(["yes-customer.od.test"]);
    expect(reads).toEqual([]);
    expect(events.filter((event) => event.type === "warning")).toEqual([]);
  });

  test("covers is checked before allow: a name it refuses is never asked about and costs nothing", async () => {
    let asked = 0;
    const { onDemand, add, reads } = gate({ allow: () => (asked++, true), covers: (name) => name.endsWith(".customers.od.test"), maxPerMinute: 1 });
    expect(await onDemand.certificateFor("elsewhere.od.test", add)).toBeUndefined();
    expect(await onDemand.certificateFor("shop.customers.od.test", add)).toBeDefined();
    expect(await onDemand.certificateFor("other.od.test", add)).toBeUndefined();
    expect(asked).toBe(1);
    expect(reads).toEqual([]);
  });

  test("a share taken for a name another instance saved before this one ordered it is given back", async () => {
    const meanwhile = ["a.od.test", "b.od.test"];
    const { onDemand, add, ordered } = gate({ allow: () => true, maxPerMinute: 2 }, { savedMeanwhile: meanwhile });
    for (const name of meanwhile) expect(await onDemand.certificateFor(name, add)).toBeDefined();
    expect(ordered).toEqual([]);
    const results = await Promise.all(["c.od.test", "d.od.test", "e.od.test"].map((name) => onDemand.certificateFor(name, add)));
    expect(results.map(Boolean)).toEqual([true, true, false]);
    expect(ordered).toEqual(["c.od.test", "d.od.test"]);
  });

  test("comparableName() refuses what the URL parser would turn into an address", () => {
    expect(comparableName("123")).toBeUndefined();
    expect(comparableName("0x7f.1")).toBeUndefined();
    expect(comparableName("127.0.0.1")).toBe("127.0.0.1");
    expect(comparableName("*.Bücher.Example.")).toBe("*.xn--bcher-kva.example");
  });
});
