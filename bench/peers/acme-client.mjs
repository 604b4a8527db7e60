// Drives node's acme-client (npm, installed into bench/work only) for the benchmark:
//   node bench/peers/acme-client.mjs DIRECTORY_URL MODE COUNT PREFIX
// MODE: single (one certificate for COUNT names), parallel (COUNT certificates with Promise.all),
// sequential (COUNT certificates one after another). Serves http-01 on 127.0.0.1:5002.
// Prints one JSON line: {"ms": elapsed}. Trust: NODE_EXTRA_CA_CERTS.
import { createServer } from "node:http";
import { once } from "node:events";
import { createRequire } from "node:module";

const require = createRequire(new URL("../work/", import.meta.url));
const acme = require("acme-client");
const [directoryUrl, mode, countText, prefix] = process.argv.slice(2);
const count = Number(countText);
const tokens = new Map();
const server = createServer((request, response) => {
  const value = tokens.get(request.url.split("/").pop());
  response.statusCode = value ? 200 : 404;
  response.end(value ?? "");
}).listen(5002, "127.0.0.1");
await once(server, "listening");

const started = performance.now();
const client = new acme.Client({ directoryUrl, accountKey: await acme.crypto.createPrivateEcdsaKey() });
// Register once up front: auto() run many times at once on one client would each try to.
await client.createAccount({ termsOfServiceAgreed: true });
const issue = async (names) => {
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, await acme.crypto.createPrivateEcdsaKey());
  return client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ["http-01"],
    skipChallengeVerification: true,
    challengeCreateFn: async (_authz, challenge, keyAuthorization) => void tokens.set(challenge.token, keyAuthorization),
    challengeRemoveFn: async (_authz, challenge) => void tokens.delete(challenge.token),
  });
};
const names = (n, tag) => Array.from({ length: n }, (_, i) => `${prefix}-${tag}${i}.bench.test`);
if (mode === "single") await issue(names(count, "n"));
else if (mode === "parallel") await Promise.all(names(count, "c").map((name) => issue([name])));
else for (const name of names(count, "s")) await issue([name]);
console.log(JSON.stringify({ ms: performance.now() - started }));
server.close();
