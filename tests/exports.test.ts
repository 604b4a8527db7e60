/**
 * The public surface, pinned: the names `"bun-acme"` (src/index.ts) and `"bun-acme/cli"`
 * (src/cli/index.ts) export, values and types, compared with tests/exports.expected.json. A change
 * to the surface fails here until that file is changed with it, so that it is made on purpose:
 * `BUN_ACME_UPDATE_EXPORTS=1 bun test tests/exports.test.ts` rewrites it, for review in the diff.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { ROOT } from "./support/client.ts";

const EXPECTED_FILE = join(ROOT, "tests", "exports.expected.json");
/** CI's tsc (node_modules/.bin/tsc): its package's compiler API reads the types of the surface. */
const TSC = process.env.BUN_ACME_TSC;
const FACES = { "bun-acme": "src/index.ts", "bun-acme/cli": "src/cli/index.ts" } as const;
type Face = keyof typeof FACES;

/** Comments out, so that an `export` in JSDoc is not read as a statement. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/**
 * The names an index file exports, types as `type Name`, read from its `export { ... } from` and
 * `export type { ... } from` statements (the only kinds a face has).
 *
 * @throws {Error} for any other kind of export statement, which this reader would miss
 */
function exportedNames(file: string): string[] {
  const source = withoutComments(readFileSync(join(ROOT, file), "utf8"));
  const statements = [...source.matchAll(/\bexport\s+(type\s+)?\{([^}]*)\}\s*from\s*"[^"]+";/g)];
  const exportKeywords = source.match(/\bexport\b/g)?.length ?? 0;
  if (exportKeywords !== statements.length) throw new Error(`${file}: ${exportKeywords - statements.length} export statement(s) other than "export { ... } from": read them here too`);
  return statements.flatMap(([, typeOnly, list]) =>
    list!.split(",").map((item) => item.trim()).filter(Boolean).map((item) => {
      const [, typeItem, name, alias] = /^(type\s+)?([\w$]+)(?:\s+as\s+([\w$]+))?$/.exec(item) ?? [];
      if (!name) throw new Error(`${file}: cannot read the export "${item}"`);
      return `${typeOnly || typeItem ? "type " : ""}${alias ?? name}`;
    })
  ).sort();
}

if (process.env.BUN_ACME_UPDATE_EXPORTS) {
  const current = Object.fromEntries(Object.entries(FACES).map(([face, file]) => [face, exportedNames(file)]));
  writeFileSync(EXPECTED_FILE, `${JSON.stringify(current, null, 2)}\n`);
}
const expected = JSON.parse(readFileSync(EXPECTED_FILE, "utf8")) as Record<Face, string[]>;

describe.each(Object.keys(FACES) as Face[])("the surface of %s", (face) => {
  const file = FACES[face];

  test("is the committed list (tests/exports.expected.json): change both together, on purpose", () => {
    expect(exportedNames(file)).toEqual(expected[face]);
  });

  test("its values are what the module gives at run time (the statement reader misses none)", async () => {
    const module = (await import(join(ROOT, file))) as Record<string, unknown>;
    expect(Object.keys(module).sort()).toEqual(exportedNames(file).filter((name) => !name.startsWith("type ")));
  });

  test("has no name twice", () => {
    const names = exportedNames(file).map((name) => name.replace(/^type /, ""));
    expect(names.filter((name, index) => names.indexOf(name) !== index)).toEqual([]);
  });
});

describe("the error classes of the surface", () => {
  /** Malformed input is the platform's SyntaxError, as the README says; these carry a code too, but are no BunAcmeError. */
  const SYNTAX_ERRORS = new Set(["DerError", "DnsFormatError"]);

  test("every one extends BunAcmeError", async () => {
    const { BunAcmeError } = await import("../src/index.ts");
    const modules = [await import("../src/index.ts"), await import("../src/cli/index.ts")] as Record<string, unknown>[];
    const errorClasses = modules.flatMap((module) => Object.entries(module))
      .filter(([name, value]) => typeof value === "function" && value.prototype instanceof Error && !SYNTAX_ERRORS.has(name));
    expect(errorClasses.length).toBeGreaterThanOrEqual(20);
    const outside = errorClasses.filter(([name, value]) => name !== "BunAcmeError" && !((value as Function).prototype instanceof BunAcmeError)).map(([name]) => name);
    expect(outside).toEqual([]);
  });

  test("a BunAcmeError keeps its code, message, cause and the subclass's name", async () => {
    const { BunAcmeError, StoreError, DnsUpdateError, ServerStartError } = await import("../src/index.ts");
    const { UsageError } = await import("../src/cli/index.ts");
    const cause = new Error("underneath");
    const root = new BunAcmeError("ERR_EXAMPLE", "what failed", { cause });
    expect([root.code, root.message, root.cause, root.name]).toEqual(["ERR_EXAMPLE", "what failed", cause, "BunAcmeError"]);
    const cases = [
      [new StoreError("bad record", "ERR_STORE_CORRUPT"), "StoreError", "ERR_STORE_CORRUPT", "bad record"],
      [new StoreError("bad record"), "StoreError", "ERR_STORE", "bad record"],
      [new DnsUpdateError("refused", "REFUSED"), "DnsUpdateError", "ERR_DNS_UPDATE", "refused"],
      [new ServerStartError("http-01 challenge server", "127.0.0.1", 5002, Object.assign(new Error("busy"), { code: "EADDRINUSE" })), "ServerStartError", "EADDRINUSE", "Cannot start the http-01 challenge server on 127.0.0.1:5002: the port is already in use"],
      [new ServerStartError("DNS server", "127.0.0.1", 53, new Error("odd")), "ServerStartError", "ERR_SERVER_START", "Cannot start the DNS server on 127.0.0.1:53: odd"],
      [new UsageError("--domain is missing"), "UsageError", "ERR_USAGE", "--domain is missing"],
    ] as const;
    for (const [error, name, code, message] of cases) {
      expect(error).toBeInstanceOf(BunAcmeError);
      expect([error.name, error.code, error.message]).toEqual([name, code, message]);
    }
  });
});

/**
 * Types declared in src/ that an export of `file` names in its public signature (a parameter, a
 * member, a return type, a base type) without `file` exporting them: a user can use such an API
 * but cannot name what it takes or gives, e.g. implement a `CertificateStore`.
 */
function unexportedTypesNamed(file: string): string[] {
  // The compiler's own typings are not installed here: it is used through a narrow, untyped door.
  const ts: any = createRequire(import.meta.url)(join(dirname(dirname(TSC!)), "typescript"));
  const entry = join(ROOT, file);
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic() {} });
  const program = ts.createProgram([entry], config.options);
  const checker = program.getTypeChecker();
  const resolve = (symbol: any) => (symbol && symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol);
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry))).map(resolve);
  const hidden = (node: any) => ts.getCombinedModifierFlags(node) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected) || (node.name && ts.isPrivateIdentifier(node.name));
  const found = new Set<string>();
  const visit = (node: any, owner: string): void => {
    if (ts.isBlock(node) || ((ts.isPropertyDeclaration(node) || ts.isMethodDeclaration(node) || ts.isGetAccessor(node)) && hidden(node))) return;
    const named = ts.isTypeReferenceNode(node) ? node.typeName : ts.isExpressionWithTypeArguments(node) ? node.expression : ts.isTypeQueryNode(node) ? node.exprName : undefined;
    const symbol = named && resolve(checker.getSymbolAtLocation(named));
    const declaration = symbol?.declarations?.[0];
    if (declaration && !(symbol.flags & ts.SymbolFlags.TypeParameter) && declaration.getSourceFile().fileName.startsWith(join(ROOT, "src")) && !exported.includes(symbol)) {
      found.add(`${symbol.name} (${relative(ROOT, declaration.getSourceFile().fileName)}), named by ${owner}`);
    }
    ts.forEachChild(node, (child: any) => visit(child, owner));
  };
  for (const symbol of exported) {
    for (const declaration of symbol.declarations ?? []) {
      if (ts.isVariableDeclaration(declaration)) {
        if (declaration.type) visit(declaration.type, symbol.name);
      } else visit(declaration, symbol.name);
    }
  }
  return [...found].sort();
}

describe("the types of the surface", () => {
  test.skipIf(!TSC)("every type an export of src/index.ts names is exported too (read with BUN_ACME_TSC's compiler)", () => {
    expect(unexportedTypesNamed("src/index.ts")).toEqual([]);
  }, 120_000);
});
