import { decodeBase64, encodeBase64 } from "./base64url.ts";

/** One PEM block: its label (e.g. `CERTIFICATE`) and its DER bytes. */
export interface PemBlock {
  readonly label: string;
  readonly der: Uint8Array;
}

/**
 * Encodes DER bytes as a PEM block with 64-character lines.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7468#section-2
 * @example encodePem("CERTIFICATE REQUEST", csrDer)
 */
export function encodePem(label: string, der: Uint8Array): string {
  const body = encodeBase64(der).replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/**
 * Decodes every PEM block in a text, in order (a certificate chain holds several).
 * Text outside the blocks is ignored, as RFC 7468 allows.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7468#section-2
 * @throws {SyntaxError} when a block is unterminated or its body is not base64
 */
export function decodePemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  const begin = /-----BEGIN ([A-Z0-9 ]+)-----/g;
  let match: RegExpExecArray | null;
  while ((match = begin.exec(text)) !== null) {
    const label = match[1]!;
    const endMarker = `-----END ${label}-----`;
    const end = text.indexOf(endMarker, begin.lastIndex);
    if (end < 0) throw new SyntaxError(`Cannot decode PEM: "${label}" block has no END line`);
    const der = decodeBase64(text.slice(begin.lastIndex, end));
    blocks.push({ label, der });
    begin.lastIndex = end + endMarker.length;
  }
  return blocks;
}

/**
 * Decodes the first PEM block with the given label.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7468#section-2
 * @throws {SyntaxError} when no such block is present
 */
export function decodePem(text: string, label: string): Uint8Array {
  const block = decodePemBlocks(text).find((b) => b.label === label);
  if (!block) throw new SyntaxError(`Cannot decode PEM: no "${label}" block found`);
  return block.der;
}
