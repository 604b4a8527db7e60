/**
 * renew against a CA that forgets its accounts between the account's lookup and the order (a CA
 * reset during the run). Pebble cannot be reset under a running client, so the CA is the FAKE one
 * (tests/support/fake-ca.ts behind Bun.serve), which can forget every account.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { runClient } from "../support/client.ts";
import { serveFakeCa } from "../support/fake-ca-server.ts";
import { makeTempDir } from "../support/temp.ts";

setDefaultTimeout(60_000);

describe("renew when the CA forgot the account", () => {
  test("renew --force opens the account again once (accountDoesNotExist on the order) and renews", async () => {
    const served = serveFakeCa();
    const state = makeTempDir("bun-acme-account-reset-");
    try {
      const obtained = await runClient(["certonly", "--dir", served.directoryUrl, "--allow-insecure-http", "--domain", "reset.fake.test", "--bind", "127.0.0.1",
        "--http-port", "20002", "--state", state]);
      expect(obtained.code).toBe(0);

      // The CA is reset just before the renewal's first order reaches it: the account the run found is gone.
      let armed = true;
      served.ca.follow({
        ...served.ca.script,
        intercept: (request) => {
          if (armed && request.method === "POST" && new URL(request.url).pathname === "/order") {
            armed = false;
            served.ca.forgetAccounts();
          }
          return undefined;
        },
      });
      const count = (what: string) => served.ca.requests.filter((request) => request === what).length;
      const [accountsBefore, ordersBefore] = [count("POST /account"), count("POST /order")];
      const renewed = await runClient(["renew", "--force", "--state", state]);
      expect(renewed.stderr).toBe("");
      expect(renewed.stdout).toContain("reset.fake.test: renewed (serial ");
      expect(renewed.code).toBe(0);
      expect(armed).toBe(false);
      expect(count("POST /account") - accountsBefore).toBe(2); // found at the start, then once more after the reset
      expect(count("POST /order") - ordersBefore).toBe(2); // refused once (accountDoesNotExist), then placed
    } finally {
      await served.stop();
    }
  });
});
