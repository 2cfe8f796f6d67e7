import { config } from "./config";
import type { Secret } from "./secret";

const configuredSecrets = (): Secret[] => {
  try {
    const { apiKey, civitaiApiKey, hfToken } = config();
    return [apiKey, civitaiApiKey, hfToken].filter((secret): secret is Secret => secret !== undefined);
  } catch {
    return [];
  }
};

/**
 * `text` with every configured credential (also URL-encoded), any `token=` query value and any bearer token
 * replaced by [redacted]: for anything that goes to a log, whose origin (an upstream URL, a library's
 * message) we do not control.
 */
export function redactSecrets(text: string, secrets: readonly Secret[] = configuredSecrets()): string {
  let out = text.replace(/([?&]token=)[^&\s"']+/gi, "$1[redacted]").replace(/(\bBearer\s+)[^\s"',;]+/gi, "$1[redacted]");
  for (const secret of secrets) {
    const value = secret.reveal();
    if (value.length < 4) continue;
    // as it is, and as it stands in a URL (a key with `+`, `/` or `=` is percent-encoded there)
    for (const form of new Set([value, encodeURIComponent(value)])) out = out.split(form).join("[redacted]");
  }
  return out;
}
