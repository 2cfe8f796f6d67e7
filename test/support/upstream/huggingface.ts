/**
 * Hugging Face as the service meets it: the model info API, `resolve` answering 302 to the CDN on the
 * other host name (with X-Linked-Size, X-Linked-Etag and X-Repo-Commit), gated repositories that want the
 * bearer token, and the CDN serving the bytes. A file's id is `<owner>/<repo>/<path>`.
 *   GET      /api/models/<owner>/<repo>                 model info
 *   GET|HEAD /<owner>/<repo>/resolve/<rev>/<path>       302 to the CDN
 *   GET|HEAD /cdn/<id>?sig=...                          the CDN, serves bytes
 */
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { type Context, type Endpoint, GET_OR_HEAD, LAST_MODIFIED, touch } from "./files";
import { decodePath, encodePath, header, json, s3Error, text } from "./http";
import { serveBytes } from "./plain";

/** A fake 40-hex commit for a repo. */
const commitOf = (repo: string): string => createHash("sha1").update(`commit:${repo}`).digest("hex");

function gatedOk(ctx: Context, req: IncomingMessage): boolean {
  const auth = header(req, "authorization");
  return ctx.tokens.hf !== null && auth === `Bearer ${ctx.tokens.hf}`;
}

/** GET|HEAD /cdn/<id>: the file's bytes, named in Content-Disposition as the CDN names them. */
export const hfCdn: Endpoint = {
  route: "cdn",
  methods: GET_OR_HEAD,
  pattern: /^\/cdn\/(.+)$/,
  serve(ctx, ex, m) {
    const f = ctx.files.get(decodePath(m[1] ?? "") ?? "");
    touch(ex, f);
    if (!f) return s3Error(ex.res, 404, "NoSuchKey", "The specified key does not exist.");
    const name = f.spec.id.split("/").pop() ?? f.spec.id;
    return serveBytes(ctx, ex, f, {
      "Content-Disposition": `inline; filename*=UTF-8''${encodeURIComponent(name)}; filename="${name}";`,
    });
  },
};

/** GET /api/models/<owner>/<repo>[/revision/<rev>]: the repository's info, its files as siblings. */
export const hfModelInfo: Endpoint = {
  route: "hf-api",
  methods: ["GET"],
  pattern: /^\/api\/models\/([^/]+)\/([^/]+?)(?:\/revision\/[^/]+)?\/?$/,
  serve(ctx, ex, m) {
    const repo = `${decodePath(m[1] ?? "")}/${decodePath(m[2] ?? "")}`;
    const inRepo = [...ctx.files.values()].filter((f) => f.spec.id.startsWith(`${repo}/`));
    if (inRepo.length === 0) return json(ex.res, 401, { error: "Repository not found" }, { "X-Error-Code": "RepositoryNotFound" });
    for (const f of inRepo) touch(ex, f);
    const [author = "", name = ""] = repo.split("/");
    const when = LAST_MODIFIED.toISOString();
    return json(ex.res, 200, {
      _id: createHash("sha1").update(`id:${repo}`).digest("hex").slice(0, 24),
      id: repo,
      modelId: repo,
      author,
      sha: commitOf(repo),
      lastModified: when,
      private: false,
      gated: inRepo.some((f) => f.spec.mode === "gated") ? "auto" : false,
      disabled: false,
      downloads: 4321,
      likes: 42,
      tags: ["diffusers", "safetensors", "text-to-image", name.toLowerCase()],
      pipeline_tag: "text-to-image",
      library_name: "diffusers",
      siblings: inRepo.map((f) => ({ rfilename: f.spec.id.slice(repo.length + 1) })),
      createdAt: when,
    });
  },
};

/** GET|HEAD /<owner>/<repo>/resolve/<rev>/<path>: 302 to the CDN, or the errors the Hub answers with. */
export const hfResolve: Endpoint = {
  route: "hf-resolve",
  methods: GET_OR_HEAD,
  pattern: /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/,
  serve(ctx, ex, m) {
    const { req, res } = ex;
    const repo = `${decodePath(m[1] ?? "")}/${decodePath(m[2] ?? "")}`;
    const id = `${repo}/${decodePath(m[4] ?? "") ?? ""}`;
    const f = ctx.files.get(id);
    touch(ex, f);
    const commit = commitOf(repo);
    if (!f) {
      const known = [...ctx.files.keys()].some((k) => k.startsWith(`${repo}/`));
      return known
        ? json(res, 404, { error: "Entry not found" }, { "X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit })
        : json(res, 401, { error: "Repository not found" }, { "X-Error-Code": "RepositoryNotFound" });
    }
    if (f.spec.mode === "gated" && !gatedOk(ctx, req)) {
      const message = `Access to model ${repo} is restricted. You must have access to it and be authenticated to access it. Please log in.`;
      return json(res, 401, { error: message }, { "X-Error-Code": "GatedRepo", "X-Error-Message": message });
    }
    const location = `${ctx.otherHost(req)}/cdn/${encodePath(f.spec.id)}?sig=${randomBytes(16).toString("hex")}&Expires=${Math.floor(Date.now() / 1000) + 3600}`;
    return text(res, 302, `Found. Redirecting to ${location}`, "text/plain; charset=utf-8", {
      Location: location,
      "X-Linked-Size": String(f.spec.size),
      "X-Linked-Etag": `"${f.sha256}"`,
      ETag: `"${f.sha256}"`,
      "X-Repo-Commit": commit,
      "Access-Control-Expose-Headers":
        "X-Repo-Commit,X-Request-Id,X-Error-Code,X-Error-Message,X-Total-Count,ETag,Link,Accept-Ranges,Content-Range,X-Linked-Size,X-Linked-ETag,X-Xet-Hash",
    });
  },
};
