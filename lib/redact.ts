import type { Config } from "./config";
import type { Secret } from "./secret";

/** The credentials a configuration holds: what `redactSecrets` hides wherever it is given them. */
export const secretsOf = ({ apiKey, civitaiApiKey, hfToken }: Pick<Config, "apiKey" | "civitaiApiKey" | "hfToken">): Secret[] =>
  [apiKey, civitaiApiKey, hfToken].filter((secret): secret is Secret => secret !== undefined);

/**
 * `text` with every one of `secrets` (also URL-encoded), any `token=` query value and any bearer token
 * replaced by [redacted]: for anything that goes to a log, whose origin (an upstream URL, a library's
 * message) we do not control. Where a message is made without the configuration at hand, `secrets` is
 * empty and the writer that has it (a log, the status file) redacts again.
 */
export function redactSecrets(text: string, secrets: readonly Secret[]): string {
  let out = text.replace(/([?&]token=)[^&\s"']+/gi, "$1[redacted]").replace(/(\bBearer\s+)[^\s"',;]+/gi, "$1[redacted]");
  for (const secret of secrets) {
    const value = secret.reveal();
    if (value.length < 4) continue;
    // as it is, and as it stands in a URL (a key with `+`, `/` or `=` is percent-encoded there)
    for (const form of new Set([value, encodeURIComponent(value)])) out = out.split(form).join("[redacted]");
  }
  return out;
}
