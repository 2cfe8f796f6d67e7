/**
 * The Hugging Face URLs of a catalog entry, the only ones that ever carry HF_TOKEN:
 * `$HF_ENDPOINT/<org>/<name>/resolve/<revision>/<file>` and `$HF_ENDPOINT/api/models/<org>/<name>`.
 * `hf_repo`, `hf_revision` and `hf_file` are catalog text, so each part is checked and encoded as path
 * segments: an `hf_repo` of `../api/whoami-v2?x=` must not aim the token at another API.
 */

export class BadHfReference extends Error {}

export interface HfUrls {
  /** The file's download URL. */
  readonly resolve: URL;
  /** The repo's model info. */
  readonly api: URL;
  /** Where a person accepts the licence. */
  readonly page: string;
}

// Hugging Face's own rule for repo ids (huggingface_hub's validate_repo_id): an optional owner and a name.
const REPO_ID = /^(?:[A-Za-z0-9_.-]+\/)?[A-Za-z0-9_.-]+$/;

/** Refuses an empty, `.` or `..` part: the URL parser resolves those (encoded ones too). */
function checked(value: string, what: string): string[] {
  const segments = value.split("/");
  if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new BadHfReference(`${what} ${JSON.stringify(value.slice(0, 200))} has an empty, '.' or '..' part`);
  }
  return segments;
}

const pathOf = (value: string, what: string): string => checked(value, what).map(encodeURIComponent).join("/");

export function hfUrls(endpoint: string, repo: string, file: string, revision = "main"): HfUrls {
  if (!REPO_ID.test(repo) || repo.split("/").some((part) => part === "." || part === "..")) {
    throw new BadHfReference(
      `hf_repo ${JSON.stringify(repo.slice(0, 200))} is not a Hugging Face repo id (<owner>/<name>, letters, digits, '.', '_' and '-')`,
    );
  }
  const repoPath = pathOf(repo, "hf_repo");
  const filePath = pathOf(file, "hf_file");
  // a revision is one segment, its slashes encoded: refs/pr/1 is refs%2Fpr%2F1
  const rev = encodeURIComponent(checked(revision, "hf_revision").join("/"));
  return {
    resolve: new URL(`${endpoint}/${repoPath}/resolve/${rev}/${filePath}`),
    api: new URL(`${endpoint}/api/models/${repoPath}`),
    page: `${endpoint}/${repoPath}`,
  };
}
