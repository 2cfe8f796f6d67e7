/**
 * Where the expected API key comes from. On the pod it is API_KEY (`npm start` sets it from
 * `$STUDIO_DIR/api-key`). In Lambda it is an SSM SecureString named by API_KEY_PARAMETER, read at the first
 * request and again once it is older than five minutes: the key is in neither the template nor the
 * function's configuration, and a rotated key is in use everywhere within five minutes.
 */
import type { SSMProvider } from "@aws-lambda-powertools/parameters/ssm";
import { inspect } from "node:util";
import type { Config } from "../config";
import { BrokenStateError, BusyError } from "../errors";
import { redactSecrets, secretsOf } from "../redact";
import { Secret } from "../secret";

/** The expected key, or undefined when none is configured (the API then refuses every request). */
export type KeySource = () => Promise<Secret | undefined>;

/** How long a key read from SSM is used before it is read again. */
export const KEY_MAX_AGE_SECONDS = 300;

export interface SsmKeyOptions {
  readonly maxAgeSeconds?: number;
  /** The standard AWS SDK v3 client underneath: region, credentials and endpoint come from the environment. */
  readonly provider?: SSMProvider;
  /** Credentials the log line of a failed read must not show (the configured ones). */
  readonly secrets?: readonly Secret[];
}

const causeOf = (error: unknown): string => {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : inspect(cause);
};

/**
 * Reads the key from the SecureString parameter `name`, cached for `maxAgeSeconds`; calls that arrive
 * while a read is under way wait for that read. A failed read is not cached: the next request tries again.
 */
export function ssmKey(name: string, options: SsmKeyOptions = {}): () => Promise<Secret> {
  const { maxAgeSeconds, secrets } = { maxAgeSeconds: KEY_MAX_AGE_SECONDS, secrets: [], ...options };
  // loaded at the first read: a process that never reads SSM (the pod) never evaluates the AWS SDK
  let provider: Promise<SSMProvider> | undefined = options.provider && Promise.resolve(options.provider);
  let reading: Promise<Secret> | undefined;

  async function read(): Promise<Secret> {
    let value: unknown;
    try {
      provider ??= import("@aws-lambda-powertools/parameters/ssm").then(({ SSMProvider }) => new SSMProvider());
      value = await (await provider).get(name, { decrypt: true, maxAge: maxAgeSeconds });
    } catch (error) {
      // the operator's log gets AWS's reason (AccessDenied, ParameterNotFound...); the client only the name
      console.error(redactSecrets(`Reading the API key from SSM parameter ${name} failed: ${causeOf(error)}`, secrets));
      throw new BusyError(`could not read the API key from SSM parameter ${name}; try again`);
    }
    // trimmed like API_KEY, so a key stored with its trailing newline still matches
    const key = typeof value === "string" ? value.trim() : "";
    if (key === "") throw new BrokenStateError(`Server misconfigured: SSM parameter ${name} holds no API key`);
    return new Secret(key);
  }

  return () => {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };
}

/**
 * API_KEY when it is set (the pod); else the SSM parameter named by API_KEY_PARAMETER (Lambda); else none.
 * `config` is asked at each request, so a configuration that does not parse fails that request.
 */
export function configuredKey(config: () => Config): KeySource {
  let fromSsm: { name: string; read: () => Promise<Secret> } | undefined;
  return async () => {
    const current = config();
    const { apiKey, apiKeyParameter } = current;
    if (apiKey !== undefined) return apiKey;
    if (apiKeyParameter === undefined) return undefined;
    if (fromSsm?.name !== apiKeyParameter) fromSsm = { name: apiKeyParameter, read: ssmKey(apiKeyParameter, { secrets: secretsOf(current) }) };
    return fromSsm.read();
  };
}
