/**
 * What a pasted link names: a CivitAI model or version (its page, its download link, its AIR), or one file
 * of a Hugging Face repo at a revision. Pure: nothing is fetched here, and the link's own host is never
 * contacted at all (the look-up goes to CIVITAI_BASE_URL and HF_ENDPOINT); the host only has to be one
 * that is known to be CivitAI or Hugging Face. A link's query is read for the few fields that say which
 * version or file, and never repeated (a pasted download link may carry someone's `?token=`).
 */

export interface CivitaiLink {
  readonly kind: "civitai";
  readonly modelId?: number;
  /** Without one, the model's newest published version. */
  readonly versionId?: number;
  /** An AIR's `+<fileId>`: one file of the version's. */
  readonly fileId?: number;
  /** A download link's `type`, `format`, `size`, `fp`: CivitAI's own way to pick one of a version's files. */
  readonly fileQuery?: Readonly<Record<string, string>>;
}

export interface HfLink {
  readonly kind: "huggingface";
  /** `<org>/<name>` */
  readonly repo: string;
  readonly revision: string;
  /** The file's path in the repo, `/`-separated. */
  readonly path: string;
}

export type ModelLink = CivitaiLink | HfLink;

/** Where a link may point: an origin, and the path under it that CivitAI's or Hugging Face's paths follow. */
interface Site {
  readonly origin: string;
  readonly prefix: string;
}

export interface LinkHosts {
  readonly civitai: readonly Site[];
  readonly huggingface: readonly Site[];
}

export const PUBLIC_CIVITAI_HOSTS = ["civitai.com", "civitai.red"] as const;
export const PUBLIC_HF_HOSTS = ["huggingface.co", "hf.co"] as const;

const configuredSite = (base: string): Site => {
  const url = new URL(base);
  return { origin: url.origin, prefix: url.pathname.replace(/\/+$/, "") };
};

const publicSites = (hosts: readonly string[]): Site[] =>
  hosts.flatMap((host) => [host, `www.${host}`]).flatMap((host) => ["https", "http"].map((scheme) => ({ origin: `${scheme}://${host}`, prefix: "" })));

/** The configured CIVITAI_BASE_URL and HF_ENDPOINT, and the public sites of both. */
export function linkHosts(civitaiBaseUrl: string, hfEndpoint: string): LinkHosts {
  return {
    civitai: [configuredSite(civitaiBaseUrl), ...publicSites(PUBLIC_CIVITAI_HOSTS)],
    huggingface: [configuredSite(hfEndpoint), ...publicSites(PUBLIC_HF_HOSTS)],
  };
}

/** What a 422 says of a link it does not recognise: every accepted form, and the hosts. */
export function acceptedForms(hosts: LinkHosts): string {
  const configured = [...new Set([hosts.civitai[0], hosts.huggingface[0]].flatMap((site) => (site ? [`${site.origin}${site.prefix}`] : [])))];
  return (
    "Not a link to a model this service can add. It takes a CivitAI model page (/models/<modelId>, its newest " +
    "published version; /models/<modelId>/<slug>?modelVersionId=<versionId>), a CivitAI download link " +
    "(/api/download/models/<versionId>), an AIR (urn:air:<ecosystem>:<type>:civitai:<modelId>@<versionId>), or a " +
    "Hugging Face file (/<org>/<repo>/blob/<revision>/<path> or /<org>/<repo>/resolve/<revision>/<path>), on " +
    `${[...PUBLIC_CIVITAI_HOSTS, ...PUBLIC_HF_HOSTS].join(", ")} or ${configured.join(" or ")}`
  );
}

// CivitAI's ids are positive integers; fifteen digits stay exact in a double
const ID = /^[1-9]\d{0,14}$/;
const id = (text: string | null | undefined): number | undefined => (text !== null && text !== undefined && ID.test(text) ? Number(text) : undefined);

// an AIR: urn:air:{ecosystem}:{type}:{source}:{id}[@{version}][+{fileId}][.{format}], `urn:` optional, and
// ecosystem and type optional too (CivitAI's own parser reads all of those)
const AIR = /^(?:urn:)?air:(?:[\w.-]+:){0,2}civitai:(\d+)(?:@(\d+))?(?:\+(\d+))?(?:\.[\w-]+)?$/i;

function air(text: string): CivitaiLink | undefined {
  const match = AIR.exec(text);
  if (!match) return undefined;
  const [, model, version, file] = match;
  const modelId = id(model);
  const versionId = version === undefined ? undefined : id(version);
  const fileId = file === undefined ? undefined : id(file);
  if (modelId === undefined || (version !== undefined && versionId === undefined) || (file !== undefined && fileId === undefined)) return undefined;
  return { kind: "civitai", modelId, ...(versionId !== undefined && { versionId }), ...(fileId !== undefined && { fileId }) };
}

/** The path's segments after `prefix`, each decoded once; undefined for an empty one or bad percent-encoding. */
function segmentsUnder(pathname: string, prefix: string): string[] | undefined {
  if (prefix !== "" && pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return undefined;
  const parts = pathname.slice(prefix.length).replace(/\/$/, "").split("/").slice(1);
  try {
    const decoded = parts.map(decodeURIComponent);
    return decoded.some((part) => part === "") ? undefined : decoded;
  } catch {
    return undefined;
  }
}

const FILE_QUERY = ["type", "format", "size", "fp"] as const;

function civitaiPath(parts: readonly string[], query: URLSearchParams): CivitaiLink | undefined {
  if (parts[0] === "models" && (parts.length === 2 || parts.length === 3)) {
    const modelId = id(parts[1]);
    const version = query.get("modelVersionId");
    const versionId = version === null ? undefined : id(version);
    if (modelId === undefined || (version !== null && versionId === undefined)) return undefined;
    return { kind: "civitai", modelId, ...(versionId !== undefined && { versionId }) };
  }
  if (parts.length === 4 && parts[0] === "api" && parts[1] === "download" && parts[2] === "models") {
    const versionId = id(parts[3]);
    if (versionId === undefined) return undefined;
    const picked = FILE_QUERY.flatMap((name) => {
      const value = query.get(name);
      return value ? [[name, value] as const] : [];
    });
    return { kind: "civitai", versionId, ...(picked.length > 0 && { fileQuery: Object.fromEntries(picked) }) };
  }
  return undefined;
}

// Hugging Face's rule for a repo id's parts (huggingface_hub's validate_repo_id)
const REPO_PART = /^[A-Za-z0-9_.-]{1,96}$/;
// paths of the Hub that are not a model repo's
const NOT_AN_ORG = new Set(["api", "datasets", "spaces", "docs", "collections", "papers", "settings"]);
const plainPart = (part: string): boolean => part !== "." && part !== ".." && !/[/\\\0]/.test(part);

function hfPath(parts: readonly string[]): HfLink | undefined {
  const [org, name, kind, revision, ...file] = parts;
  if (org === undefined || name === undefined || revision === undefined || file.length === 0) return undefined;
  if (kind !== "blob" && kind !== "resolve") return undefined;
  if (NOT_AN_ORG.has(org) || ![org, name].every((part) => REPO_PART.test(part) && plainPart(part))) return undefined;
  // a revision is one segment, its slashes encoded (refs%2Fpr%2F1); each part of the file's path a plain name
  if (revision === "." || revision === ".." || revision.split("/").some((part) => part === "") || !file.every(plainPart)) return undefined;
  return { kind: "huggingface", repo: `${org}/${name}`, revision, path: file.join("/") };
}

const MAX_LINK_LENGTH = 4096;

/** The model `text` links to, or undefined when it is not a link of a form and a host this service knows. */
export function recogniseLink(text: string, hosts: LinkHosts): ModelLink | undefined {
  const trimmed = text.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_LINK_LENGTH) return undefined;
  if (/^(?:urn:)?air:/i.test(trimmed)) return air(trimmed);
  let url: URL;
  try {
    // "civitai.com/models/1" as people copy it from the address bar, without its scheme
    url = new URL(/^[a-z][a-z\d+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  const on = (sites: readonly Site[]) =>
    sites.flatMap((site) => (site.origin === url.origin ? [segmentsUnder(url.pathname, site.prefix)] : [])).find((parts) => parts !== undefined);
  const civitai = on(hosts.civitai);
  const huggingFace = on(hosts.huggingface);
  // with both at one origin (a local mirror of each) the forms tell them apart: CivitAI's have at most four
  // segments, Hugging Face's at least five
  return (civitai && civitaiPath(civitai, url.searchParams)) ?? (huggingFace && hfPath(huggingFace)) ?? undefined;
}
