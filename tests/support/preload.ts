/**
 * Loaded before every test file (bunfig.toml `[test] preload`): hooks that span the whole run.
 */
import { afterAll } from "bun:test";
import { removeTempDirs } from "./temp.ts";

// Every temporary folder the tests made, removed once the last test file has run.
// Removing PostgreSQL data folders on a loaded machine can take longer than Bun's 5 s hook default.
afterAll(removeTempDirs, 60_000);
