#!/usr/bin/env bun
/**
 * Entry point: `bun run src/main.ts http01 --dir URL --record IPv4 --domain NAME`.
 * @module
 */
import { main } from "./cli/index.ts";

process.exit(await main(process.argv.slice(2)));
