import { describe, expect, test } from "bun:test";
import { Http01Solver } from "../../src/challenges/index.ts";

const identifier = { type: "dns" as const, value: "example.test" };
const challenge = { type: "http-01", url: "https://ca.test/chall/1", status: "pending" as const, token: "tok_EN-123" };

describe("Http01Solver.handle()", () => {
  test("answers a presented token with its key authorization, then 404 after cleanup", async () => {
    const solver = new Http01Solver();
    solver.present(identifier, challenge, "tok_EN-123.thumb");
    const response = solver.handle(new Request("http://example.test/.well-known/acme-challenge/tok_EN-123"));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("tok_EN-123.thumb");
    solver.cleanup(identifier, challenge);
    expect(solver.handle(new Request("http://example.test/.well-known/acme-challenge/tok_EN-123")).status).toBe(404);
  });

  test("unknown tokens and other paths get 404, traversal attempts included", () => {
    const solver = new Http01Solver();
    solver.present(identifier, challenge, "k");
    for (const path of ["/.well-known/acme-challenge/other", "/", "/.well-known/acme-challenge/", "/.well-known/acme-challenge/../../etc/passwd"]) {
      expect(solver.handle(new Request(`http://example.test${path}`)).status).toBe(404);
    }
  });

  test("methods other than GET and HEAD get 405", () => {
    const solver = new Http01Solver();
    const response = solver.handle(new Request("http://example.test/.well-known/acme-challenge/x", { method: "POST", body: "x" }));
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
  });
});
