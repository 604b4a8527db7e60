import type { FieldError } from "./field-error.ts";

/**
 * Where fields are read from: the document's name, the path of the object within it, and how a
 * boundary reports a bad field (by default the {@link FieldError} itself; a store wraps it in its
 * `StoreError`, the ACME layer in its `AcmeProtocolError`, each keeping it as `cause`).
 */
export interface Source {
  /** The file, record or resource, as a user would find it: `/etc/bun-acme/.../lineage.json`. */
  readonly name: string;
  /** The dotted path of the object read within the document (absent: its top). */
  readonly path?: string;
  /** Turns a bad field into the error the boundary throws. */
  readonly report?: (error: FieldError) => Error;
}

/** A source named `name` whose bad fields are reported through `report` (default: the {@link FieldError}). */
export function sourceOf(name: string, report?: (error: FieldError) => Error): Source {
  return report ? { name, report } : { name };
}

/** The source for the object at `key` inside `where`'s object: its fields are named `key.field`. */
export function within(where: Source, key: string): Source {
  return { ...where, path: pathOf(where, key) };
}

/** A field's dotted path within the document. */
export function pathOf(where: Source, key: string): string {
  return where.path === undefined ? key : `${where.path}.${key}`;
}
