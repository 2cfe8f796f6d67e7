/**
 * The upstream stand-in's server: one HTTP server on 127.0.0.1 that plays CivitAI, Hugging Face, their CDN
 * and signed storage, and a plain file host. It logs every request but the control ones, answers canned
 * answers first, then the first route that matches, in the order below.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { civitaiDownload, civitaiSigned, civitaiVersion } from "./civitai";
import { civitaiByHashBatch, civitaiByHashSingle } from "./civitai-by-hash";
import { civitaiModel } from "./civitai-models";
import { answerCanned, control } from "./control";
import type { Context, Endpoint, Exchange, FileState } from "./files";
import { BadRequest, header, json, text } from "./http";
import { hfCdn, hfModelInfo, hfResolve } from "./huggingface";
import { plainFile } from "./plain";
import type { Canned, LogEntry, Upstream } from "./types";

const ENDPOINTS: readonly Endpoint[] = [
  plainFile,
  hfCdn,
  civitaiSigned,
  civitaiDownload,
  // before civitaiVersion: "by-hash" is no version id
  civitaiByHashBatch,
  civitaiByHashSingle,
  civitaiVersion,
  civitaiModel,
  hfModelInfo,
  hfResolve,
];

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse, entry: LogEntry): Promise<void> {
  const ex: Exchange = { req, res, entry, url: new URL(req.url ?? "/", "http://upstream.invalid") };
  const p = ex.url.pathname;
  const method = ex.req.method ?? "GET";
  if (p.startsWith("/_control/")) return control(ctx, ex);
  if (await answerCanned(ctx, ex)) return;
  for (const endpoint of ENDPOINTS) {
    const match = endpoint.pattern.exec(p);
    if (match && endpoint.methods.includes(method)) {
      ex.entry.route = endpoint.route;
      return endpoint.serve(ctx, ex, match);
    }
  }
  return text(ex.res, 404, "Not Found\n", "text/plain; charset=utf-8");
}

/** A request's log entry, as it arrives. */
function newEntry(req: IncomingMessage): LogEntry {
  return {
    seq: 0,
    time: Date.now(),
    method: req.method ?? "",
    path: req.url ?? "/",
    host: header(req, "host") ?? "",
    authorization: header(req, "authorization"),
    range: header(req, "range"),
    ifRange: header(req, "if-range"),
    userAgent: header(req, "user-agent"),
    route: "unknown",
    fileId: null,
    status: 0,
    bytesSent: 0,
    finished: false,
    aborted: false,
  };
}

/** Logs a request (not a control one) and keeps its status and end up to date. */
function record(ctx: Context, entry: LogEntry, res: ServerResponse, seq: number): void {
  entry.seq = seq;
  ctx.log.push(entry);
  ctx.inflight.set(entry, res);
  res.once("finish", () => {
    entry.finished = true;
  });
  res.once("close", () => {
    ctx.inflight.delete(entry);
    entry.status = res.headersSent ? res.statusCode : 0;
    if (!entry.finished) entry.aborted = true;
  });
}

/** Starts the stand-in on a free port of 127.0.0.1. */
export async function startUpstream(): Promise<Upstream> {
  const timers = new Set<NodeJS.Timeout>();
  let port = 0;
  let closing = false;
  let seq = 0;
  const url = () => `http://127.0.0.1:${port}`;
  const altUrl = () => `http://localhost:${port}`;
  const ctx: Context = {
    files: new Map<string, FileState>(),
    canned: [] as Canned[],
    signedUsed: new Map<string, number>(),
    tokens: { hf: null, civitai: null },
    log: [],
    inflight: new Map<LogEntry, ServerResponse>(),
    get closing() {
      return closing;
    },
    otherHost: (req) => ((req.headers.host ?? "").toLowerCase().startsWith("localhost") ? url() : altUrl()),
    sameHost: (req) => `http://${req.headers.host ?? `127.0.0.1:${port}`}`,
    sleep: (ms, res) =>
      new Promise((resolve) => {
        const t = setTimeout(done, ms);
        timers.add(t);
        function done() {
          clearTimeout(t);
          timers.delete(t);
          res.off("close", done);
          resolve();
        }
        res.once("close", done);
      }),
  };

  const server = createServer((req, res) => {
    const entry = newEntry(req);
    if (!entry.path.startsWith("/_control/")) record(ctx, entry, res, ++seq);
    handle(ctx, req, res, entry).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof BadRequest) json(res, 400, { error: err.message });
      else json(res, 500, { error: err instanceof Error ? err.message : String(err) });
    });
  });
  // longer than any client keeps an idle socket, so a reused connection is never closed under a request
  server.keepAliveTimeout = 65_000;

  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    port,
    url: url(),
    altUrl: altUrl(),
    close: async () => {
      closing = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
