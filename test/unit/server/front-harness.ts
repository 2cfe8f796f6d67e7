/**
 * The front door in front of a stand-in for serverless-offline (on a Unix socket) that answers what each test
 * sets, for the front door's unit tests. `useFront()` starts both before each test and closes them after it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import { createFront, type FrontOptions } from "../../../lib/server/front";
import { Secret } from "../../../lib/secret";

export const KEY = "front-door-key-5b1e";

/** What the stand-in received: a request with its whole body. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** The state of one test: a field a test sets (`answer`) is read by the stand-in at its next request. */
export interface FrontDoor {
  upstream: http.Server;
  front: http.Server;
  port: number;
  answer: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  streamedCalls: string[];
  received: Received[];
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Registers the hooks that start the stand-in and the front door before each test; returns what they share. */
export function useFront() {
  // filled in by beforeEach, before any test reads it
  const door = {} as FrontDoor;
  let socketDir: string;
  let upstreamSocket: string;

  /** (Re)starts the front door, with options of the test's own. */
  async function startFront(options: Partial<FrontOptions> = {}): Promise<void> {
    if (door.front) {
      door.front.closeAllConnections();
      await new Promise((resolve) => door.front.close(resolve));
    }
    door.front = createFront({
      upstreamSocket,
      corsOrigins: ["chrome-extension://*"],
      apiKey: new Secret(KEY),
      streamed: {
        "GET /api/admin/models/status": async (req, res) => {
          door.streamedCalls.push(req.url ?? "");
          res.writeHead(200, { "content-type": "text/event-stream" });
          res.end("data: {}\n\n");
        },
      },
      ...options,
    });
    door.port = await listen(door.front);
  }

  beforeEach(async () => {
    door.answer = (_req, res) => res.end("{}");
    door.streamedCalls = [];
    door.received = [];
    // like serverless-offline, it reads the whole body before it answers
    door.upstream = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        door.received.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) });
        door.answer(req, res);
      });
    });
    socketDir = await mkdtemp(path.join(os.tmpdir(), "front-test-"));
    upstreamSocket = path.join(socketDir, "http.sock");
    await new Promise<void>((resolve) => door.upstream.listen(upstreamSocket, resolve));
    await startFront();
  });

  afterEach(async () => {
    door.front.closeAllConnections();
    door.upstream.closeAllConnections();
    await Promise.all([new Promise((resolve) => door.front.close(resolve)), new Promise((resolve) => door.upstream.close(resolve))]);
    await rm(socketDir, { recursive: true, force: true });
  });

  return {
    door,
    startFront,
    raw: (bytes: string) => raw(door.port, bytes),
    request: requestTo(door),
    rawTimed: (bytes: string, waitMs?: number) => rawTimed(door.port, bytes, waitMs),
  };
}

/** Bytes as they are, on a connection of their own; the whole answer. */
const raw = (port: number, bytes: string) =>
  new Promise<{ status: number; head: string; body: string }>((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const end = text.indexOf("\r\n\r\n");
      resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), head: text.slice(0, end).toLowerCase(), body: text.slice(end + 4) });
    });
    setTimeout(() => socket.destroy(), 2_000);
  });

/** A request with the key, unless its headers name another. */
const requestTo = (door: FrontDoor) => (options: http.RequestOptions, body?: Buffer, chunked = false) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    // a header given as undefined is left out (a request without the key)
    const given = { "x-api-key": KEY, ...(options.headers as http.OutgoingHttpHeaders | undefined) };
    const headers = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
    const req = http.request({ host: "127.0.0.1", port: door.port, agent: false, ...options, headers }, (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    if (body && chunked) {
      for (let offset = 0; offset < body.length; offset += 1024 * 1024) req.write(body.subarray(offset, offset + 1024 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });

/** The first bytes of the answer on a raw connection, when they came, and when the connection closed. */
function rawTimed(port: number, bytes: string, waitMs = 5_000) {
  const started = Date.now();
  let text = "";
  let firstAt: number | undefined;
  const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
  socket.on("data", (chunk: Buffer) => {
    firstAt ??= Date.now() - started;
    text += chunk.toString("latin1");
  });
  socket.on("error", () => undefined);
  const timer = setTimeout(() => socket.destroy(), waitMs);
  const closed = new Promise<{ text: string; firstMs: number | undefined; closedMs: number }>((resolve) =>
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ text, firstMs: firstAt, closedMs: Date.now() - started });
    }),
  );
  return { socket, closed, text: () => text };
}
