/**
 * A real PostgreSQL (Debian's postgresql 15) for the shared-store tests: a cluster made by initdb
 * in a temporary folder owned by the postgres user, started by pg_ctl on a loopback port with
 * trust authentication, stopped afterwards.
 */
import { chownSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./temp.ts";

/** A running PostgreSQL. */
export interface Postgres {
  readonly url: string;
  /** The server's log file. */
  readonly logFile: string;
  /** Stops the server (fast shutdown: every connection is closed) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** The URL of database `name`, made on first use (a namespace of its own for one test). */
  database(name: string): Promise<string>;
  /** Starts it again after `stop()`. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const BIN = "/usr/lib/postgresql/15/bin";

function asPostgres(command: string): { exitCode: number; output: string } {
  const result = Bun.spawnSync(["su", "postgres", "-c", command], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: result.exitCode, output: `${result.stdout.toString()}${result.stderr.toString()}` };
}

/** Starts a fresh cluster on 127.0.0.1:`port`, with `settings` as `-c key=value` (e.g. `log_statement: "all"`). */
export async function startPostgres(port: number, settings: Record<string, string> = {}): Promise<Postgres> {
  const dir = makeTempDir("bun-acme-postgres-");
  const id = (flag: string) => Number(Bun.spawnSync(["id", flag, "postgres"]).stdout.toString().trim());
  chownSync(dir, id("-u"), id("-g"));
  const data = join(dir, "data");
  const init = asPostgres(`${BIN}/initdb -D ${data} -A trust -U postgres`);
  if (init.exitCode !== 0) throw new Error(`initdb failed: ${init.output}`);
  const start = () => {
    const started = asPostgres(`${BIN}/pg_ctl -D ${data} -o '-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${Object.entries(settings).map(([key, value]) => ` -c ${key}=${value}`).join("")}' -l ${join(dir, "log")} -w start`);
    if (started.exitCode !== 0) throw new Error(`pg_ctl start failed: ${started.output}`);
  };
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    logFile: join(dir, "log"),
    async restart() {
      asPostgres(`${BIN}/pg_ctl -D ${data} -m fast stop`);
      start();
    },
    async start() {
      start();
    },
    async database(name) {
      const created = asPostgres(`psql -h ${dir} -p ${port} -U postgres -qc 'create database ${name}'`);
      if (created.exitCode !== 0 && !created.output.includes("already exists")) throw new Error(`create database ${name} failed: ${created.output}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      asPostgres(`${BIN}/pg_ctl -D ${data} -m fast stop`);
    },
  };
}
