/**
 * Challenge solvers, one per type, each with `present` and `cleanup`.
 * @module
 */
export { dns01RecordName, dns01TxtValue, Dns01Solver } from "./dns01.ts";
export { HTTP01_PATH_PREFIX, Http01Solver } from "./http01.ts";
