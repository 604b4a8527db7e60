/**
 * Prometheus' text exposition format (version 0.0.4): metric families with HELP and TYPE lines,
 * samples with escaped label values. Pure: values in, text out.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

/** One sample of a family: its labels and value. */
export interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A metric family: name, help text, type and samples. */
export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*` */
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly samples: readonly Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n");
}

/** A sample value: integers as they are, `+Inf`/`-Inf`/`NaN` spelled as Prometheus reads them. */
function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * The families as exposition text, one `# HELP`, one `# TYPE` and the samples each, ending in a
 * line feed.
 *
 * @throws {TypeError} for a metric or label name the format does not allow
 */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    if (!NAME.test(family.name)) throw new TypeError(`Cannot render metric "${family.name}": not a Prometheus metric name`);
    lines.push(`# HELP ${family.name} ${family.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels ?? {});
      for (const [label] of labels) {
        if (!LABEL.test(label) || label.startsWith("__")) throw new TypeError(`Cannot render label "${label}" of ${family.name}: not a Prometheus label name`);
      }
      const labelText = labels.length > 0 ? `{${labels.map(([label, value]) => `${label}="${escapeLabelValue(value)}"`).join(",")}}` : "";
      lines.push(`${family.name}${labelText} ${formatValue(sample.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
