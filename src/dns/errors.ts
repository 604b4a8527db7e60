/**
 * A DNS message that cannot be decoded. Carries the message ID when the header could be read,
 * so that a server can still answer FORMERR to the right query.
 *
 * @see https://www.rfc-editor.org/rfc/rfc1035#section-4.1.1 (RCODE 1, Format error)
 */
export class DnsFormatError extends SyntaxError {
  readonly code = "ERR_DNS_FORMAT";
  /** The message ID, when at least the 12-byte header was readable. */
  readonly id: number | undefined;

  constructor(message: string, id?: number) {
    super(message);
    this.name = "DnsFormatError";
    this.id = id;
  }
}
