/**
 * A CA that validates inside the challenge POST (a real step-ca 0.19, tests/support/step-ca.ts)
 * against a validation target that accepts connections and never answers: step-ca holds the POST
 * for its own validation timeout (30 s) and then cuts the connection (measured: EPROTO at the
 * client). The client must not POST the challenge again (each POST restarts the validation: main
 * sent it 3 times and gave up after 115 s with "Cannot connect"), but poll the authorization and
 * fail with step-ca's own words, in about 31 s.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { runClient } from "../support/client.ts";
import { startStepCa, type StepCa } from "../support/step-ca.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(150_000);

let stepCa: StepCa;
let silent: Server;
const sockets: Socket[] = [];
beforeAll(async () => {
  stepCa = await startStepCa({ port: 9443 });
  silent = createServer((socket) => void sockets.push(socket)); // accepts, reads, never answers
  await new Promise<void>((resolve) => silent.listen(80, "127.0.0.1", resolve));
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  silent?.close();
  await stepCa?.stop();
});

test("step-ca with a silent http-01 target: one challenge POST, step-ca's error shown, well within --timeout", async () => {
  const started = Date.now();
  const result = await runClient(["certonly", "--dir", stepCa.directoryUrl, "--ca", stepCa.rootFile, "--ip", "127.0.0.1", "--webroot", makeTempDir("bun-acme-silent-webroot-"),
    "--state", makeTempDir("bun-acme-silent-state-"), "--timeout", "120"]);
  const elapsed = Date.now() - started;
  expect(result.code).toBe(1);
  expect(elapsed).toBeLessThan(80_000);
  const line = result.stderr.trim();
  expect(line).not.toContain("Cannot connect to");
  expect(line).toBe("127.0.0.1: failed: Authorization of ip 127.0.0.1 with http-01 failed: connection: The server could not connect to validation target");
  const challengePosts = stepCa.log().split("\n").filter((entry) => / method=POST /.test(entry) && / path=\/acme\/acme\/challenge\//.test(entry));
  expect(challengePosts).toHaveLength(1);
});
