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
 * `text` with every configured credential, and any `token=` query value, replaced by [redacted]: for
 * anything that goes to a log, whose origin (an upstream URL, a library's message) we do not control.
 */
export function redactSecrets(text: string, secrets: readonly Secret[] = configuredSecrets()): string {
  let out = text.replace(/([?&]token=)[^&\s"']+/gi, "$1[redacted]");
  for (const secret of secrets) {
    const value = secret.reveal();
    if (value.length >= 4) out = out.split(value).join("[redacted]");
  }
  return out;
}
