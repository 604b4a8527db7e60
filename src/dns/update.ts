/**
 * Dynamic updates of a TXT record on the user's own name servers: find the zone, follow a CNAME
 * (the acme-dns pattern), add or delete exactly one value, and watch every authoritative server
 * of the zone until it serves the value.
 * @see https://www.rfc-editor.org/rfc/rfc2136
 */
import { BunAcmeError } from "../errors/index.ts";
import { exchange, type ExchangeOptions } from "./client.ts";
import { EMPTY_HEADER, type DnsPacket, type DnsRecord } from "./packet.ts";
import { CLASS_IN, RecordType } from "./records.ts";
import type { TsigKey } from "./tsig.ts";

/** The server that takes the updates (the zone's primary), and the key that signs them. */
export interface UpdateTarget {
  readonly server: string;
  readonly port: number;
  readonly tsig?: TsigKey;
  readonly timeoutMs?: number;
}

/** Response codes, by number, for messages. @see https://www.rfc-editor.org/rfc/rfc2136#section-2.2 */
const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
};
const OPCODE_UPDATE = 5;
/** Class NONE: "delete this RR" in an update. @see https://www.rfc-editor.org/rfc/rfc2136#section-2.5.4 */
const CLASS_NONE = 254;

/** An update or lookup the name server refused or could not do. */
export class DnsUpdateError extends BunAcmeError {
  declare readonly code: "ERR_DNS_UPDATE";
  readonly rcode: string | undefined;
  constructor(message: string, rcode?: string) {
    super("ERR_DNS_UPDATE", message);
    this.name = "DnsUpdateError";
    this.rcode = rcode;
  }
}

const randomId = () => crypto.getRandomValues(new Uint16Array(1))[0]!;

function query(name: string, type: number): DnsPacket {
  return { header: { ...EMPTY_HEADER, id: randomId() }, questions: [{ name, type, class: CLASS_IN }], answers: [], authorities: [], additionals: [] };
}

const options = (target: UpdateTarget, server = target.server): ExchangeOptions => ({
  server, port: target.port, ...(target.timeoutMs !== undefined ? { timeoutMs: target.timeoutMs } : {}),
});

/**
 * The name an `_acme-challenge` record really lives at: the end of its CNAME chain (at most 8
 * links), or the name itself.
 */
export async function followCname(name: string, target: UpdateTarget): Promise<string> {
  let current = name;
  for (let link = 0; link < 8; link++) {
    const { packet } = await exchange(query(current, RecordType.CNAME), options(target));
    const cname = packet.answers.find((record) => record.data.type === "CNAME" && record.name.toLowerCase() === current.toLowerCase());
    if (!cname || cname.data.type !== "CNAME") return current;
    current = cname.data.target;
  }
  throw new DnsUpdateError(`The CNAME chain from ${name} is longer than 8 links`);
}

/**
 * The zone that holds `name`: the owner of the SOA the server returns for it (in the answer, or
 * in the authority section of a negative answer).
 *
 * @throws {DnsUpdateError} when the server is not authoritative for any zone above the name
 */
export async function findZone(name: string, target: UpdateTarget): Promise<string> {
  const { packet } = await exchange(query(name, RecordType.SOA), options(target));
  const soa = [...packet.answers, ...packet.authorities].find((record) => record.data.type === "SOA");
  if (!soa) {
    throw new DnsUpdateError(`${target.server}:${target.port} is not authoritative for a zone holding ${name} (no SOA; ${RCODE_NAMES[packet.header.rcode] ?? packet.header.rcode})`);
  }
  return soa.name;
}

/**
 * Adds or deletes one TXT value at `name` in `zone`; a delete removes that value only, so
 * another client's value at the same name survives.
 *
 * @throws {DnsUpdateError} naming the server, the response code and the TSIG verdict
 */
export async function updateTxt(action: "add" | "delete", zone: string, name: string, value: string, target: UpdateTarget, ttl = 60): Promise<void> {
  const record: DnsRecord = { name, class: action === "add" ? CLASS_IN : CLASS_NONE, ttl: action === "add" ? ttl : 0, data: { type: "TXT", texts: [value] } };
  const message: DnsPacket = {
    header: { ...EMPTY_HEADER, id: randomId(), opcode: OPCODE_UPDATE },
    questions: [{ name: zone, type: RecordType.SOA, class: CLASS_IN }],
    answers: [],
    authorities: [record],
    additionals: [],
  };
  const where = `${target.server}:${target.port}`;
  const { packet, tsig } = await exchange(message, { ...options(target), ...(target.tsig ? { tsig: target.tsig } : {}) });
  const rcode = RCODE_NAMES[packet.header.rcode] ?? String(packet.header.rcode);
  const key = target.tsig ? ` with TSIG key "${target.tsig.name}" (${target.tsig.algorithm})` : " without TSIG";
  if (packet.header.rcode !== 0) {
    const why = tsig?.error ? `, TSIG ${tsig.error}` : "";
    throw new DnsUpdateError(`The name server ${where} refused to ${action} the TXT record ${name} in zone ${zone}${key}: ${rcode}${why}`, rcode);
  }
  if (tsig && !tsig.verified) throw new DnsUpdateError(`The name server ${where} answered the update of ${name}${key}, but ${tsig.reason}`, "BADSIG");
}

/** The zone's name servers, their addresses resolved through the target server. */
export async function nameServers(zone: string, target: UpdateTarget): Promise<{ readonly name: string; readonly address: string }[]> {
  const { packet } = await exchange(query(zone, RecordType.NS), options(target));
  const names = packet.answers.flatMap((record) => (record.data.type === "NS" ? [record.data.target] : []));
  const servers: { name: string; address: string }[] = [];
  for (const name of names) {
    const glue = packet.additionals.find((record) => record.name.toLowerCase() === name.toLowerCase() && record.data.type === "A");
    const address = glue?.data.type === "A" ? glue.data.address : await resolveA(name, target);
    if (address) servers.push({ name, address });
  }
  return servers;
}

async function resolveA(name: string, target: UpdateTarget): Promise<string | undefined> {
  const { packet } = await exchange(query(name, RecordType.A), options(target));
  const record = packet.answers.find((answer) => answer.data.type === "A");
  return record?.data.type === "A" ? record.data.address : undefined;
}

/**
 * Asks every server directly (on the target's port) until each serves `value` at `name`, or the
 * time is up.
 *
 * @throws {DnsUpdateError} naming the servers that never showed it
 */
export async function waitForTxt(
  name: string,
  value: string,
  servers: readonly { readonly name: string; readonly address: string }[],
  target: UpdateTarget,
  timeoutMs: number,
  pollMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waiting = [...servers];
  for (;;) {
    const results = await Promise.all(waiting.map(async (server) => {
      try {
        const { packet } = await exchange(query(name, RecordType.TXT), { ...options(target, server.address), timeoutMs: Math.min(1_000, target.timeoutMs ?? 1_000) });
        return packet.answers.some((record) => record.data.type === "TXT" && record.data.texts.join("") === value);
      } catch {
        return false;
      }
    }));
    waiting = waiting.filter((_, index) => !results[index]);
    if (waiting.length === 0) return;
    if (Date.now() + pollMs > deadline) {
      const which = waiting.map((server) => `${server.name} (${server.address})`).join(", ");
      throw new DnsUpdateError(`The TXT record ${name} did not appear on ${which} within ${timeoutMs / 1000} s (--dns-propagation-timeout)`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
