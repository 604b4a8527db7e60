import { describe, expect, test } from "bun:test";
import { escapeLabelValue, renderExposition } from "../../src/metrics/index.ts";

describe("renderExposition()", () => {
  test("writes HELP, TYPE and samples as Prometheus' text format (golden)", () => {
    expect(renderExposition([
      { name: "bun_acme_orders_total", help: "Certificates ordered.", type: "counter", samples: [{ labels: { outcome: "obtained" }, value: 2 }, { labels: { outcome: "renewed" }, value: 5 }] },
      { name: "bun_acme_certificate_swaps_total", help: "Swaps.", type: "counter", samples: [{ value: 0 }] },
      { name: "bun_acme_empty", help: "No samples yet.", type: "gauge", samples: [] },
    ])).toBe([
      "# HELP bun_acme_orders_total Certificates ordered.",
      "# TYPE bun_acme_orders_total counter",
      'bun_acme_orders_total{outcome="obtained"} 2',
      'bun_acme_orders_total{outcome="renewed"} 5',
      "# HELP bun_acme_certificate_swaps_total Swaps.",
      "# TYPE bun_acme_certificate_swaps_total counter",
      "bun_acme_certificate_swaps_total 0",
      "# HELP bun_acme_empty No samples yet.",
      "# TYPE bun_acme_empty gauge",
      "",
    ].join("\n"));
  });

  test("escapes backslash, double quote and line feed in label values, and spells infinities and NaN", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderExposition([{ name: "x", help: "h", type: "gauge", samples: [{ labels: { v: 'say "hi"\n' }, value: Infinity }, { value: Number.NaN }, { value: -Infinity }] }]);
    expect(text).toContain('x{v="say \\"hi\\"\\n"} +Inf\nx NaN\nx -Inf\n');
  });

  test("throws TypeError for a metric or label name the format does not allow", () => {
    expect(() => renderExposition([{ name: "bad-name", help: "h", type: "gauge", samples: [] }])).toThrow(TypeError);
    expect(() => renderExposition([{ name: "ok", help: "h", type: "gauge", samples: [{ labels: { "bad-label": "x" }, value: 1 }] }])).toThrow(TypeError);
    expect(() => renderExposition([{ name: "ok", help: "h", type: "gauge", samples: [{ labels: { __reserved: "x" }, value: 1 }] }])).toThrow(TypeError);
  });
});
