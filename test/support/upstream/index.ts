/**
 * A stand-in for the upstreams the download engine talks to, on 127.0.0.1: CivitAI (civitai.ts), Hugging
 * Face (huggingface.ts), their CDN and signed storage, and a plain file host (plain.ts), with a fault mode
 * per file. The catalog's git remote stands in for GitHub from git.ts.
 *
 * It is started once per run (vitest globalSetup, main process) or by a test file for its own stack, and
 * driven by the test files only over HTTP: `/_control/*` (control.ts), wrapped by `upstreamClient()`.
 * A file's content is deterministic (content.ts): `fileBytes()` / `fileSha256()` compute it for expectations.
 *
 * Routes (ids may contain slashes; each path segment may be percent-encoded):
 *   GET|HEAD /files/<id>                                    plain host, serves bytes
 *   GET|HEAD /<owner>/<repo>/resolve/<rev>/<path>            HF resolve: 302 to the CDN on the *other* host name
 *                                                           (id = <owner>/<repo>/<path>)
 *   GET      /api/models/<owner>/<repo>                      HF model info
 *   GET|HEAD /cdn/<id>?sig=...                               HF CDN, serves bytes
 *   GET|HEAD /api/download/models/<versionId>?token=...      CivitAI: 307 to signed storage (id = civitai/<versionId>)
 *   GET      /api/v1/model-versions/<versionId>              CivitAI version info
 *   POST     /api/v1/model-versions/by-hash                  CivitAI versions of up to 100 SHA256s
 *   GET      /api/v1/model-versions/by-hash/<sha256>         CivitAI version of one SHA256
 *   GET      /api/v1/models/<modelId>                        CivitAI model info, its versions from the registered ones
 *   GET|HEAD /signed/<id>?X-Amz-...&exp=<ms>                 CivitAI signed storage, serves bytes until `exp`
 */
export { alteredSeed, BLOCK_SIZE, fileBytes, fileSha256 } from "./content";
export { upstreamClient, type UpstreamClient } from "./client";
export { startUpstream } from "./server";
export type { Canned, CivitaiFacts, FileSpec, FileStats, LogEntry, Mode, RegisteredFile, Route, Tokens, Upstream } from "./types";
