/**
 * A real nginx (Debian's package) for the webroot tests: serves one folder on a loopback port,
 * from a configuration in a temporary folder, and stops when asked.
 */
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "./temp.ts";

/** A running nginx. */
export interface Nginx {
  readonly root: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts nginx serving `root` on 127.0.0.1:`port`; waits until it answers. `gzip`: compress text
 * responses for clients that accept it (as a compressing upstream does).
 */
export async function startNginx(root: string, port: number, options: { gzip?: boolean } = {}): Promise<Nginx> {
  const dir = makeTempDir("bun-acme-nginx-");
  // nginx's workers run as nobody: the folders on the way to the files must be searchable.
  for (const folder of [dir, root]) chmodSync(folder, 0o755);
  const config = `
daemon off;
master_process on;
worker_processes 1;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 64; }
http {
  access_log ${join(dir, "access.log")};
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  fastcgi_temp_path ${join(dir, "fastcgi")};
  uwsgi_temp_path ${join(dir, "uwsgi")};
  scgi_temp_path ${join(dir, "scgi")};
  ${options.gzip ? "gzip on; gzip_min_length 1; gzip_types text/plain application/json;" : ""}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { try_files $uri =404; }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), config);
  const child = Bun.spawn(["nginx", "-c", join(dir, "nginx.conf"), "-p", dir], { stdout: "ignore", stderr: "pipe" });
  for (let attempt = 0; ; attempt++) {
    const answered = await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);
    if (answered) break;
    if (child.exitCode !== null || attempt > 500) {
      child.kill();
      throw new Error(`nginx did not start: ${await new Response(child.stderr).text()}`);
    }
    await Bun.sleep(10);
  }
  return {
    root,
    port,
    async stop() {
      child.kill("SIGQUIT");
      await child.exited;
    },
  };
}

