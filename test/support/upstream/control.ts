/**
 * How the test files drive the stand-in over HTTP (client.ts wraps it), and the canned answers they set:
 *   POST   /_control/files              register a file (FileSpec) -> RegisteredFile
 *   GET    /_control/files/<id>/stats   -> FileStats
 *   POST   /_control/tokens             { hf?, civitai? } (replaces both)
 *   POST   /_control/canned             add a canned answer (Canned)
 *   GET    /_control/log                -> LogEntry[] (control requests are not logged)
 *   DELETE /_control/log                clears the log only
 *   POST   /_control/reset              clears log, files, canned answers and tokens
 */
import type { Context, Exchange } from "./files";
import { newFile, parseSpec } from "./files";
import { BadRequest, decodePath, json, readJson } from "./http";
import type { Canned, FileStats, RegisteredFile } from "./types";

/** Answers a /_control/ request. */
export async function control(ctx: Context, ex: Exchange): Promise<void> {
  const { req, res } = ex;
  const p = ex.url.pathname;
  const method = req.method ?? "GET";
  let m: RegExpExecArray | null;
  if (p === "/_control/files" && method === "POST") {
    const f = await newFile(parseSpec(await readJson(req)));
    ctx.files.set(f.spec.id, f);
    return json(res, 200, { id: f.spec.id, size: f.spec.size, sha256: f.sha256 } satisfies RegisteredFile);
  }
  if ((m = /^\/_control\/files\/(.+)\/stats$/.exec(p)) && method === "GET") {
    const id = decodePath(m[1] ?? "");
    const f = id === null ? undefined : ctx.files.get(id);
    if (!f) return json(res, 404, { error: `no file ${id}` });
    return json(res, 200, { requests: f.requests, gets: f.gets, bytesSent: f.bytesSent } satisfies FileStats);
  }
  if (p === "/_control/tokens" && method === "POST") {
    const raw = await readJson(req);
    if (typeof raw !== "object" || raw === null) throw new BadRequest("body must be a JSON object");
    const body = raw as Record<string, unknown>;
    const pick = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);
    ctx.tokens = { hf: pick(body.hf), civitai: pick(body.civitai) };
    return json(res, 200, { ok: true });
  }
  if (p === "/_control/log" && method === "GET") {
    for (const [e, r] of ctx.inflight) if (r.headersSent) e.status = r.statusCode;
    return json(res, 200, ctx.log);
  }
  if (p === "/_control/log" && method === "DELETE") {
    ctx.log.length = 0;
    return json(res, 200, { ok: true });
  }
  if (p === "/_control/canned" && method === "POST") {
    ctx.canned.push((await readJson(req)) as Canned);
    return json(res, 200, { ok: true });
  }
  if (p === "/_control/reset" && method === "POST") {
    ctx.canned.length = 0;
    ctx.log.length = 0;
    ctx.files.clear();
    ctx.signedUsed.clear();
    ctx.tokens = { hf: null, civitai: null };
    return json(res, 200, { ok: true });
  }
  return json(res, 404, { error: `no control route ${method} ${p}` });
}

/** Answers with the first canned answer for this method and path that has uses left; false when none. */
export async function answerCanned(ctx: Context, ex: Exchange): Promise<boolean> {
  const { req, res } = ex;
  const method = req.method ?? "GET";
  const answer = ctx.canned.find((c) => c.path === ex.url.pathname && (c.method ?? "GET") === method && (c.times === undefined || c.times > 0));
  if (!answer) return false;
  if (answer.times !== undefined) answer.times -= 1;
  ex.entry.route = "canned";
  if (answer.delayMs) await ctx.sleep(answer.delayMs, res);
  if (res.destroyed) return true;
  if (answer.reset) {
    res.socket?.destroy();
    return true;
  }
  const text = answer.body === undefined ? "" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
  res.writeHead(answer.status ?? 200, { "Content-Type": "application/json", ...answer.headers });
  res.end(method === "HEAD" ? undefined : text);
  return true;
}
