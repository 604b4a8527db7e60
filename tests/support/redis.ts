/**
 * A real redis-server (Debian's package) for the shared-store tests: on a loopback port, its data
 * in a temporary folder, persistence off, stopped afterwards.
 */
import { makeTempDir } from "./temp.ts";

/** A running redis-server. */
export interface Redis {
  readonly url: string;
  /** Stops it and starts it again on the same port and folder (with `aof`, its data survives). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts redis-server on 127.0.0.1:`port` and waits until it answers PING; `aof` turns on its append-only file. */
export async function startRedis(port: number, options: { aof?: boolean } = {}): Promise<Redis> {
  const dir = makeTempDir("bun-acme-redis-");
  const launch = async () => {
    const child = Bun.spawn(["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", options.aof ? "yes" : "no"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    for (let attempt = 0; ; attempt++) {
      const ping = Bun.spawnSync(["redis-cli", "-p", String(port), "PING"]);
      if (ping.stdout.toString().trim() === "PONG") return child;
      if (child.exitCode !== null || attempt > 100) {
        child.kill();
        throw new Error(`redis-server did not start: ${await new Response(child.stdout).text()}`);
      }
      await Bun.sleep(30);
    }
  };
  let child = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart() {
      child.kill();
      await child.exited;
      child = await launch();
    },
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
