import type { Config } from "../../config";
import type { CatalogModel } from "../../catalog/schema";
import { entrySources, preferredSource, type CivitaiReference, type HfReference } from "../../catalog/sources";
import { addressPolicy, type AddressPolicy } from "../../net/address-policy";
import { BadHfReference, hfUrls, type HfUrls } from "../../net/hf-urls";
import { Secret } from "../../secret";
import { DownloadError } from "./errors";

/** Where a catalog entry downloads from, and which host may see which credential. */
export interface Source {
  readonly kind: "civitai" | "huggingface" | "url";
  /** Identifies the upstream file: a partial made from another source is not continued. */
  readonly key: string;
  /** The first URL, without credentials. */
  readonly url: URL;
  /**
   * Credentials for requests to `url`'s own origin only, never for one a redirect leads to: headers, and
   * query parameters. They stay Secrets until the request is made, so a Source can be logged safely.
   */
  readonly authHeaders: Readonly<Record<string, Secret>>;
  readonly authQuery: Readonly<Record<string, Secret>>;
  /** What a person reads in a log line or an error: the URL without credentials. */
  readonly label: string;
  /** The page where a person fixes access (accepts a licence, logs in). */
  readonly page?: string;
  /** Which addresses its requests, and the redirects they follow, may reach. */
  readonly policy: AddressPolicy;
}

/** `Bearer <token>`, still a Secret: revealed only where the request is made. */
const bearer = (token: Secret): Secret => new Secret(`Bearer ${token.reveal()}`);

function civitai({ versionId, fileQuery }: CivitaiReference, config: Config): Source {
  // the version's primary file, or the one its file query picks (checked in lib/catalog/sources.ts)
  const query = fileQuery === undefined ? "" : `?${fileQuery}`;
  const url = new URL(`${config.civitaiBaseUrl}/api/download/models/${encodeURIComponent(versionId)}${query}`);
  // A token in the query, not a header: an Authorization header breaks the signed storage URL it redirects to.
  const authQuery = config.civitaiApiKey ? { token: config.civitaiApiKey } : {};
  const key = `civitai:${versionId}${query}`;
  return { kind: "civitai", key, url, authHeaders: {}, authQuery, label: url.toString(), policy: addressPolicy(config) };
}

function checkedHfUrls(model: CatalogModel, ...args: Parameters<typeof hfUrls>): HfUrls {
  try {
    return hfUrls(...args);
  } catch (error) {
    if (error instanceof BadHfReference) throw new DownloadError(`The catalog entry of ${model.file}: ${error.message}`);
    throw error;
  }
}

function huggingFace(model: CatalogModel, { repo, file, revision }: HfReference, config: Config): Source {
  const { resolve: url, page } = checkedHfUrls(model, config.hfEndpoint, repo, file, revision);
  const authHeaders = config.hfToken ? { authorization: bearer(config.hfToken) } : {};
  const key = `hf:${repo}@${revision}/${file}`;
  return { kind: "huggingface", key, url, authHeaders, authQuery: {}, label: url.toString(), page, policy: addressPolicy(config) };
}

function plainUrl(model: CatalogModel, text: string, config: Config): Source {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DownloadError(`The catalog's url for ${model.file} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new DownloadError(`The catalog's url for ${model.file} must be http(s), not ${url.protocol}`);
  }
  const label = `${url.origin}${url.pathname}`;
  return { kind: "url", key: `url:${label}`, url, authHeaders: {}, authQuery: {}, label, policy: addressPolicy(config) };
}

/** The entry's preferred source (lib/catalog/sources.ts), with its credentials and address policy. */
export function resolveSource(model: CatalogModel, config: Config): Source {
  const sources = entrySources(model);
  switch (preferredSource(model)) {
    case "url":
      return plainUrl(model, sources.url!, config);
    case "huggingface":
      return huggingFace(model, sources.huggingface!, config);
    case "civitai":
      return civitai(sources.civitai!, config);
    case undefined:
      throw new DownloadError(`${model.file} has no download source in the catalog: it needs url, hf_repo or civitai_version_id`);
  }
}
