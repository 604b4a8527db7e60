/**
 * One validator for every boundary: typed readers of a JSON or TOML object's fields (`field.string`,
 * `field.int`, `field.oneOf`, `field.url`, ...) that throw one typed error, {@link FieldError},
 * naming the document and the field. The ACME layer reads the CA's JSON with it, the store its
 * records, the CLI its configuration file; each may wrap the error in its own (`report`).
 * A leaf above `src/errors`: it imports nothing else.
 * @module
 */
export { defined, fail, field, objectOf, type Fields, type StringOptions } from "./field.ts";
export { describeValue, FieldError } from "./field-error.ts";
export { pathOf, sourceOf, within, type Source } from "./source.ts";
