/**
 * Well-known ACME CAs by short name, so that `--dir letsencrypt` (or `directory: "letsencrypt"`
 * in the library) needs no URL, and a CA that needs External Account Binding says so before any
 * request is sent.
 * @see https://www.rfc-editor.org/rfc/rfc8555#section-7.3.4
 */

/** One known CA. */
export interface CaPreset {
  readonly name: CaPresetName;
  readonly directoryUrl: string;
  /** Whether new accounts need External Account Binding credentials from the CA's dashboard. */
  readonly externalAccountRequired: boolean;
  /** Where those credentials come from, for error messages. */
  readonly eabSource?: string;
}

/** The short names of the known CAs. */
export type CaPresetName = "letsencrypt" | "letsencrypt-staging" | "zerossl" | "google" | "google-staging";

/** The known CAs. */
export const CA_PRESETS: Readonly<Record<CaPresetName, CaPreset>> = {
  letsencrypt: { name: "letsencrypt", directoryUrl: "https://acme-v02.api.letsencrypt.org/directory", externalAccountRequired: false },
  "letsencrypt-staging": { name: "letsencrypt-staging", directoryUrl: "https://acme-staging-v02.api.letsencrypt.org/directory", externalAccountRequired: false },
  zerossl: {
    name: "zerossl", directoryUrl: "https://acme.zerossl.com/v2/DV90", externalAccountRequired: true,
    eabSource: "the ZeroSSL dashboard (Developer → EAB credentials)",
  },
  google: {
    name: "google", directoryUrl: "https://dv.acme-v02.api.pki.goog/directory", externalAccountRequired: true,
    eabSource: "gcloud publicca external-account-keys create",
  },
  "google-staging": {
    name: "google-staging", directoryUrl: "https://dv.acme-v02.test-api.pki.goog/directory", externalAccountRequired: true,
    eabSource: "gcloud publicca external-account-keys create (with the staging endpoint)",
  },
};

/** The preset of that name, if there is one (own properties only: `toString` is no CA). */
export function findPreset(name: string): CaPreset | undefined {
  return Object.hasOwn(CA_PRESETS, name) ? CA_PRESETS[name as CaPresetName] : undefined;
}

/** A directory, resolved: its URL and, when it was named by a preset, the preset. */
export interface ResolvedDirectory {
  readonly directoryUrl: string;
  readonly preset: CaPreset | undefined;
}

/**
 * Resolves a preset name or a directory URL. Full URLs pass through (normalized); `http:` only
 * with `allowInsecureHttp`, for test CAs.
 *
 * @example resolveDirectory("letsencrypt-staging").directoryUrl // "https://acme-staging-v02.api.letsencrypt.org/directory"
 * @throws {SyntaxError} when the text is neither a preset name nor a URL
 * @throws {RangeError} for a URL that is not https (or http with `allowInsecureHttp`)
 */
export function resolveDirectory(nameOrUrl: string, options: { readonly allowInsecureHttp?: boolean } = {}): ResolvedDirectory {
  const preset = findPreset(nameOrUrl);
  if (preset) return { directoryUrl: preset.directoryUrl, preset };
  let url: URL;
  try {
    url = new URL(nameOrUrl);
  } catch {
    throw new SyntaxError(`Cannot use directory "${nameOrUrl}": not a URL nor a known CA (${Object.keys(CA_PRESETS).join(", ")})`);
  }
  if (url.protocol === "http:" && !options.allowInsecureHttp) {
    throw new RangeError(`Cannot use directory "${nameOrUrl}": ACME needs https:// (http:// is allowed only for a test CA)`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new RangeError(`Cannot use directory "${nameOrUrl}": not an https:// URL`);
  return { directoryUrl: url.href, preset: undefined };
}
