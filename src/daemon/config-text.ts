/**
 * The configuration file as a document: its TOML parsed with Bun's built-in parser, and where each
 * key is written (Bun's parser reports no positions, so the text is searched), so that every
 * error names the file and the line.
 */
import { BunAcmeError } from "../errors/index.ts";
import { sourceOf, type Source } from "../validate/index.ts";

/** The daemon's configuration is wrong: `file:line: what` (the command line exits 2 for it). */
export class ConfigError extends BunAcmeError {
  declare readonly code: "ERR_CONFIG";
  constructor(message: string) {
    super("ERR_CONFIG", message);
    this.name = "ConfigError";
  }
}

/** A TOML table as parsed. */
export type Table = Record<string, unknown>;

/** The parsed file, and how to blame one of its lines. */
export interface ConfigDocument {
  readonly text: string;
  readonly root: Table;
  /** The error `file:line: message` (`file: message` when the line is not known). */
  at(line: number | undefined, message: string): ConfigError;
  /** The line of `key` in the top level (`table` undefined), in `[table]`, or in the `index`-th `[[table]]`. */
  where(table: string | undefined, index: number, key: string): number | undefined;
}

/**
 * Parses `text` as TOML.
 *
 * @throws {ConfigError} `file:line: not valid TOML: ...` at the line where the problem starts
 */
export function configDocument(text: string, file: string): ConfigDocument {
  const at = (line: number | undefined, message: string) => new ConfigError(`${file}${line ? `:${line}` : ""}: ${message}`);
  let root: Table;
  try {
    root = Bun.TOML.parse(text) as Table;
  } catch (error) {
    const message = (error as Error).message.replace(/^TOML Parse error: /, "");
    throw at(lineOfParseError(text, message), `not valid TOML: ${message}`);
  }
  return { text, root, at, where: locator(text) };
}

/** The error for `key` of `[table]` (top level: undefined) or of the `index`-th `[[table]]`, at its line. */
export function keyError(doc: ConfigDocument, table: string | undefined, index: number, key: string, message: string): ConfigError {
  return doc.at(doc.where(table, index, key), message);
}

/**
 * The field validator's source for one table of the file: a bad key is a {@link ConfigError}
 * `file:line: LABEL KEY must be EXPECTED`, in the table's own words for a key when `words` has them.
 */
export function tableSource(doc: ConfigDocument, table?: string, index = 0, label = "", words: Readonly<Record<string, string>> = {}): Source {
  return sourceOf(table ?? "", (error) => keyError(doc, table, index, error.field, `${label}${error.field} must be ${words[error.field] ?? error.expected}`));
}

/**
 * Refuses a key outside `allowed` with the table's own words (`unknown key "x" in [listen]
 * (allowed: ...)`). Not `field.known`: its message names no table and says "absent".
 */
export function unknownKeys(table: Table, allowed: readonly string[], fail: (key: string) => Error): void {
  const unknown = Object.keys(table).find((key) => !allowed.includes(key));
  if (unknown !== undefined) throw fail(unknown);
}

/** A TOML table (`[name]`), else what `refuse` makes. */
export function tableOf(value: unknown, refuse: () => Error): Table {
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date) throw refuse();
  return value as Table;
}

/** An array of TOML tables (`[[name]]`), else what `refuse` makes. */
export function tablesOf(value: unknown, refuse: () => Error): Table[] {
  if (!Array.isArray(value)) throw refuse();
  return value.map((item: unknown) => tableOf(item, refuse));
}

/** `{ [key]: value }`, or nothing for a value not given: optional keys stay absent. */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** The line of a `[name]` header, if the file has one. */
export function headerLine(doc: ConfigDocument, name: string): number | undefined {
  const header = new RegExp(`^\\s*\\[\\s*${literal(name)}\\s*\\]\\s*(#.*)?$`);
  return doc.text.split("\n").findIndex((candidate) => header.test(candidate)) + 1 || undefined;
}

/** Finds the line of `key` in the top level, in `[table]`, or in the `index`-th `[[table]]`. */
function locator(text: string): ConfigDocument["where"] {
  const lines = text.split("\n");
  return (table, index, key) => {
    let start = 0;
    if (table !== undefined) {
      const header = new RegExp(`^\\s*\\[\\[?\\s*${literal(table)}\\s*\\]\\]?\\s*(#.*)?$`);
      const headers = lines.flatMap((line, number) => (header.test(line) ? [number] : []));
      if (headers[index] === undefined) return undefined;
      start = headers[index]! + 1;
    }
    const assignment = new RegExp(`^\\s*"?${literal(key)}"?\\s*=`);
    for (let number = start; number < lines.length; number++) {
      if (/^\s*\[/.test(lines[number]!)) break; // the next table
      if (assignment.test(lines[number]!)) return number + 1;
    }
    return undefined;
  };
}

/**
 * `text` matched as itself inside a RegExp. A key is the user's (an unknown quoted key such as
 * `"a(" = 1` is named in its error): unescaped, it threw SyntaxError, or matched another line.
 */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The first line at which the text, cut there, fails with the same message: where the problem starts. */
function lineOfParseError(text: string, message: string): number | undefined {
  const lines = text.split("\n");
  for (let count = 1; count <= lines.length; count++) {
    try {
      Bun.TOML.parse(lines.slice(0, count).join("\n"));
    } catch (error) {
      if ((error as Error).message.endsWith(message)) return count;
    }
  }
  return undefined;
}
