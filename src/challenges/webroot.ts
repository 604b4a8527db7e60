/**
 * http-01 through a web server that is already there: the key authorization is written as a file
 * under its document root, where the server serves it, and removed afterwards.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-8.3
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChallengeSolver } from "../acme/index.ts";
import type { Challenge, Identifier } from "../acme/index.ts";

/** Challenge tokens are base64url (RFC 8555 §8.1): never a path. */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * Writes `<root>/.well-known/acme-challenge/<token>` (mode 0644, folders 0755, so that a web
 * server running as another user can read it) and removes it in `cleanup`.
 *
 * @example
 * const solver = new WebrootSolver("/var/www/html");
 * await issueCertificate({ transport, account, identifiers, csr, solver });
 */
export class WebrootSolver implements ChallengeSolver {
  readonly type = "http-01";
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** The folder the files go to. */
  get folder(): string {
    return join(this.root, ".well-known", "acme-challenge");
  }

  /** @throws {RangeError} for a token that is not base64url; {Error} from the file system */
  present(_identifier: Identifier, challenge: Challenge, keyAuthorization: string): void {
    if (!TOKEN.test(challenge.token)) throw new RangeError(`Refusing challenge token "${challenge.token}": not base64url`);
    mkdirSync(this.folder, { recursive: true, mode: 0o755 });
    const path = join(this.folder, challenge.token);
    writeFileSync(path, keyAuthorization, { mode: 0o644 });
    chmodSync(path, 0o644); // whatever the umask said
  }

  cleanup(_identifier: Identifier, challenge: Challenge): void {
    if (TOKEN.test(challenge.token)) rmSync(join(this.folder, challenge.token), { force: true });
  }
}
