/**
 * A Hugging Face link's file, looked up on HF_ENDPOINT: the repo's model info (`/api/models/<repo>`, at the
 * link's revision) for its tags, and a HEAD of the file's resolve URL, its redirect not followed, for the
 * size and SHA256 Hugging Face puts on it (`X-Linked-Size`, `X-Linked-Etag`). Described as a catalog entry
 * with hf_repo, hf_file and (when not `main`) hf_revision, so downloads fetch the very bytes looked at.
 */
import { InvalidError, NotFoundError, RefusedUpstreamError } from "../errors";
import type { Reply } from "../metadata/client";
import { HfModelDetail } from "../metadata/shapes";
import { BadHfReference, hfUrls, type HfUrls } from "../net/hf-urls";
import { folderInRepoPath } from "./folders";
import type { HfLink } from "./link";
import { ask, read, sha256Of, sizeGb, unexpected, withAddedTag, type Found, type Lookup } from "./upstream";

function urlsOf(link: HfLink, endpoint: string): HfUrls {
  try {
    return hfUrls(endpoint, link.repo, link.path, link.revision);
  } catch (error) {
    if (error instanceof BadHfReference) throw new InvalidError(`Not a Hugging Face file link: ${error.message}`);
    throw error;
  }
}

/** What a refusal or a 404 means, from the status and the Hub's X-Error-Code. */
function refused(answer: Reply, link: HfLink, urls: HfUrls): Error | undefined {
  const code = answer.header("x-error-code");
  const { status } = answer;
  // the Hub answers 401 for a repo that does not exist (or that this token cannot see) as for a gated one
  if (code === "RepositoryNotFound") return new NotFoundError(`Hugging Face has no repo ${link.repo} (or it is private and HF_TOKEN cannot read it)`);
  if (code === "RevisionNotFound") return new NotFoundError(`Hugging Face has no revision '${link.revision}' of ${link.repo}`);
  if (status === 404) return new NotFoundError(`Hugging Face has no file '${link.path}' in ${link.repo} at revision '${link.revision}'`);
  if (status === 401 || status === 403) {
    return new RefusedUpstreamError(
      `Hugging Face refused the file (HTTP ${status}): the repo is gated or private: set HF_TOKEN and accept the licence at ${urls.page}`,
    );
  }
  return undefined;
}

async function checked(answer: Reply, link: HfLink, urls: HfUrls): Promise<Reply> {
  if (answer.ok) return answer;
  const error = refused(answer, link, urls);
  if (!error) {
    // a HEAD's redirect is its answer: Hugging Face's size and SHA256 are on it
    if (answer.status >= 300 && answer.status < 400) return answer;
    throw unexpected(answer, "Hugging Face");
  }
  answer.discard();
  throw error;
}

/** Hugging Face's tags of the repo that say what it is (not `license:...`, `region:...`, `arxiv:...`). */
const plainTags = (tags: readonly string[]): string[] => tags.filter((tag) => !tag.includes(":"));

/** The link's file as entry fields, its folder from the path when the path names one of ComfyUI's. */
export async function lookUpHuggingFace(link: HfLink, lookup: Lookup): Promise<Found> {
  const { config } = lookup;
  const urls = urlsOf(link, config.hfEndpoint);
  const token = config.hfToken;
  const api = link.revision === "main" ? urls.api : new URL(`${urls.api.href}/revision/${encodeURIComponent(link.revision)}`);
  const info = await read(await checked(await ask(api, token, "Hugging Face", lookup), link, urls), HfModelDetail, "Hugging Face", lookup);
  const head = await checked(await ask(urls.resolve, token, "Hugging Face", lookup, "HEAD"), link, urls);
  head.discard();
  const size = Number(head.header("x-linked-size") ?? head.header("content-length"));
  const sha256 = sha256Of(head.header("x-linked-etag"));
  const file = link.path.split("/").pop()!;
  const fields = {
    name: `${file.replace(/\.[^.]+$/, "")} (${link.repo})`,
    file,
    source: "huggingface",
    ...(Number.isSafeInteger(size) && size > 0 && { size_gb: sizeGb(size) }),
    tags: withAddedTag(plainTags(info.tags)),
    hf_repo: link.repo,
    hf_file: link.path,
    ...(link.revision !== "main" && { hf_revision: link.revision }),
    ...(sha256 !== undefined && { sha256 }),
  };
  return { fields, folder: folderInRepoPath(link.path), folderFrom: `the folders of its path '${link.path}'` };
}
