/**
 * Encodes bytes as unpadded base64url, the encoding JOSE and ACME use everywhere.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-5
 * @example encodeBase64Url(new Uint8Array([251, 255])) // "-_8"
 */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Decodes unpadded (or padded) base64url into bytes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-5
 * @throws {SyntaxError} when the text holds characters outside the base64url alphabet
 */
export function decodeBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(text)) {
    throw new SyntaxError("Cannot decode base64url: invalid character");
  }
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return decodeBase64(base64);
}

/**
 * Encodes bytes as padded standard base64.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-4
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunked so that very large inputs do not overflow the argument limit.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes standard base64 (padding optional, whitespace ignored) into bytes.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4648#section-4
 * @throws {SyntaxError} when the text is not base64
 */
export function decodeBase64(text: string): Uint8Array {
  const compact = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new SyntaxError("Cannot decode base64: invalid input");
  }
  const padded = compact.replace(/=+$/, "").padEnd(Math.ceil(compact.length / 4) * 4, "=");
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
