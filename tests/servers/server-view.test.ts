/**
 * CertificateServerView: what reaches the shared server and when. The server here is a FAKE (a
 * recorder of the sets it is given): the view only forwards, and the swaps themselves are
 * HotTlsServer's (tests/servers/hot-tls.test.ts, tests/e2e/zero-downtime.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { CertificateServerView, type ServedCertificate } from "../../src/servers/index.ts";

/** FAKE server: records every set it is asked to serve. */
function recorder() {
  const served: string[][] = [];
  return { served, server: { port: 443, serve: async (certificates: readonly ServedCertificate[]) => void served.push(certificates.map((certificate) => certificate.names[0]!)) } };
}
const certificate = (name: string): ServedCertificate => ({ names: [name], chainPem: "", keyPem: "" });

describe("CertificateServerView", () => {
  test("activate() on a view active from the start does not serve its set a second time", async () => {
    const { served, server } = recorder();
    const view = new CertificateServerView(server, { active: true });
    await view.serve([certificate("a.test")]);
    await view.activate();
    expect(served).toEqual([["a.test"]]);
  });

  test("an inactive view remembers its last set and presents it once when activated", async () => {
    const { served, server } = recorder();
    const view = new CertificateServerView(server);
    await view.serve([certificate("a.test")]);
    await view.serve([certificate("a.test"), certificate("b.test")]);
    expect(served).toEqual([]);
    await view.activate();
    await view.activate();
    expect(served).toEqual([["a.test", "b.test"]]);
  });

  test("a view deactivated (another served meanwhile) and activated again presents its set again", async () => {
    const { served, server } = recorder();
    const view = new CertificateServerView(server, { active: true });
    await view.serve([certificate("a.test")]);
    view.deactivate();
    await server.serve([certificate("other.test")]);
    await view.activate();
    expect(served).toEqual([["a.test"], ["other.test"], ["a.test"]]);
  });
});
