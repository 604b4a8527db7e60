/**
 * Byte-level encodings shared by every other module: base64url, PEM, UTF-8, hex.
 * Imports nothing from the rest of the project.
 * @module
 */
export { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from "./base64url.ts";
export { concatBytes, sha256, toHex, utf8Decode, utf8Encode } from "./bytes.ts";
export { formatIp, formatIPv6, parseIPv4, parseIPv6, tryParseIp } from "./ip.ts";
export { decodePem, decodePemBlocks, encodePem, type PemBlock } from "./pem.ts";
