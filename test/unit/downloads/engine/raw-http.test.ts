/**
 * The in-place GET (raw-http.ts) against real servers on 127.0.0.1: the body lands in the regions the reader
 * names (the reader's own memory, not copies), the head is parsed as Node parses it, a pause holds the data,
 * and the address policy, the head's time limit and a cancel end it as Node's client ends a request.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { rawGet, type BodyReader, type RawResponse } from "../../../../lib/downloads/engine/raw-http";
import { RefusedDestinationError, type AddressPolicy } from "../../../../lib/net/address-policy";
import { NoAnswerError } from "../../../../lib/net/request";

const open: AddressPolicy = { allowPrivate: true, trustedOrigins: [] };
const BODY = randomBytes(5 * 1024 * 1024 + 123);
const servers: net.Server[] = [];

async function serve(handler: http.RequestListener): Promise<URL> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/model.safetensors`);
}

/** A raw server: whatever `write` puts on the socket, then it stays open (or ends). */
async function rawServer(write: (socket: net.Socket) => void): Promise<URL> {
  const server = net.createServer((socket) => socket.once("data", () => write(socket)));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/x`);
}

afterAll(() => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))));

const ranged: http.RequestListener = (req, res) => {
  const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? "")?.[1] ?? 0);
  res.writeHead(206, { "content-length": BODY.length - start, "content-range": `bytes ${start}-${BODY.length - 1}/${BODY.length}`, "x-seen-range": req.headers.range ?? "" });
  res.end(BODY.subarray(start));
};

/** Reads the body into one buffer the size of it, through regions of at most `step` bytes. */
function readAll(res: RawResponse, size: number, step = 256 * 1024): Promise<{ memory: Buffer; inPlace: number; copies: number; error?: Error }> {
  const memory = Buffer.alloc(size);
  let at = 0;
  let inPlace = 0;
  let copies = 0;
  return new Promise((resolve) => {
    const reader: BodyReader = {
      region: () => (at < size ? memory.subarray(at, Math.min(size, at + step)) : Buffer.alloc(1)),
      data: (bytes, region) => {
        if (region.buffer === memory.buffer && region.byteOffset === memory.byteOffset + at) inPlace += 1;
        else copies += 1;
        at += bytes;
      },
      end: (error) => resolve({ memory: memory.subarray(0, at), inPlace, copies, ...(error && { error }) }),
    };
    res.read(reader);
  });
}

describe("rawGet", () => {
  it("reads a range's body into the reader's own memory, in place, and parses the head", async () => {
    const url = await serve(ranged);

    const res = await rawGet(url, { headers: { range: "bytes=1000-", "user-agent": "t" }, policy: open, signal: new AbortController().signal, headersTimeoutMs: 5000 });
    const got = await readAll(res, BODY.length - 1000);

    expect(res.statusCode).toBe(206);
    expect(res.headers["content-range"]).toBe(`bytes 1000-${BODY.length - 1}/${BODY.length}`);
    expect(res.headers["x-seen-range"]).toBe("bytes=1000-");
    expect(got.error).toBeUndefined();
    expect(got.memory.equals(BODY.subarray(1000))).toBe(true);
    // at most the bytes that came with the head and one read taken before the reader came are copied
    expect(got.copies).toBeLessThanOrEqual(2);
    expect(got.inPlace).toBeGreaterThan(got.copies);
  });

  it("holds the body while paused and goes on when resumed", async () => {
    const url = await serve(ranged);
    const res = await rawGet(url, { headers: {}, policy: open, signal: new AbortController().signal, headersTimeoutMs: 5000 });
    const memory = Buffer.alloc(BODY.length);
    let at = 0;
    let paused = false;
    let arrivedWhilePaused = 0;
    const ended = new Promise<void>((resolve) =>
      res.read({
        region: () => (at < BODY.length ? memory.subarray(at, Math.min(BODY.length, at + 64 * 1024)) : Buffer.alloc(1)),
        data: (bytes) => {
          if (paused) arrivedWhilePaused += bytes;
          at += bytes;
          if (at >= 1024 * 1024 && at - bytes < 1024 * 1024) {
            paused = true;
            setTimeout(() => {
              paused = false;
              res.resume();
            }, 300);
            return false;
          }
        },
        end: () => resolve(),
      }),
    );
    await ended;

    expect(arrivedWhilePaused).toBe(0);
    expect(memory.equals(BODY)).toBe(true);
  });

  it("joins a repeated header and passes an informational answer over", async () => {
    const url = await rawServer((socket) =>
      socket.end("HTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 206 Partial Content\r\nVary: a\r\nvary: b\r\ncontent-length: 3\r\n\r\nabc"),
    );
    const res = await rawGet(url, { headers: {}, policy: open, signal: new AbortController().signal, headersTimeoutMs: 5000 });
    const got = await readAll(res, 3);

    expect(res.statusCode).toBe(206);
    expect(res.headers.vary).toBe("a, b");
    expect(got.memory.toString()).toBe("abc");
  });

  it("refuses a private address the policy does not allow, before connecting", async () => {
    let connected = false;
    const url = await rawServer(() => (connected = true));

    const error = await rawGet(url, { headers: {}, policy: { allowPrivate: false, trustedOrigins: [] }, signal: new AbortController().signal, headersTimeoutMs: 5000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RefusedDestinationError);
    expect(connected).toBe(false);
  });

  it("gives up on a server that sends no head in time, and on a cancel", async () => {
    const url = await rawServer(() => undefined);

    const late = await rawGet(url, { headers: {}, policy: open, signal: new AbortController().signal, headersTimeoutMs: 200 }).catch((e: unknown) => e);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const cancelled = await rawGet(url, { headers: {}, policy: open, signal: abort.signal, headersTimeoutMs: 5000 }).catch((e: unknown) => e);

    expect(late).toBeInstanceOf(NoAnswerError);
    expect((cancelled as Error).name).toBe("AbortError");
  });

  it("tells a reader that comes after a cancel of it, instead of leaving it waiting", async () => {
    const url = await rawServer((socket) => socket.write("HTTP/1.1 206 Partial Content\r\ncontent-length: 100\r\n\r\nsome"));
    const abort = new AbortController();
    const res = await rawGet(url, { headers: {}, policy: open, signal: abort.signal, headersTimeoutMs: 5000 });
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));

    const got = await Promise.race([readAll(res, 100), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 1000))]);

    expect(got?.error?.name).toBe("AbortError");
  });

  it("ends the body when the server closes it early, short of its length", async () => {
    const url = await rawServer((socket) => socket.end("HTTP/1.1 206 Partial Content\r\ncontent-length: 100\r\n\r\nonly this"));
    const res = await rawGet(url, { headers: {}, policy: open, signal: new AbortController().signal, headersTimeoutMs: 5000 });

    const got = await readAll(res, 100);

    expect(got.memory.toString()).toBe("only this");
  });
});
