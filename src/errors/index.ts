/**
 * The root every error of bun-acme extends. A leaf: it imports nothing, so every folder above
 * the codecs may use it.
 * @module
 */
export { BunAcmeError } from "./bun-acme-error.ts";
