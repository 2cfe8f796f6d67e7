/**
 * A client that sends its request line and headers at once and then its body a few bytes at a time, as
 * a slow-body (slowloris-style) attacker or a very bad link does. It records when the answer came, what
 * it was, and when the server closed the connection; it never finishes the body unless told to.
 */
import net from "node:net";
import { parseRawAnswer } from "./hostile-http";

export interface Trickler {
  /** When the headers were written (ms since the epoch). */
  readonly sentAt: () => number;
  /** When the first byte of an answer arrived, if one did. */
  readonly answeredAt: () => number | undefined;
  /** When the connection closed, by either side. */
  readonly closedAt: () => number | undefined;
  /** Bytes of the body written so far. */
  readonly bodyBytes: () => number;
  readonly answer: () => ReturnType<typeof parseRawAnswer>;
  /** Resolves once the connection has closed. */
  readonly closed: Promise<void>;
  stop(): void;
}

export interface TrickleOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: readonly (readonly [string, string])[];
  /** The Content-Length sent. */
  readonly length: number;
  /** The bytes of the body sent with the headers. */
  readonly first?: string;
  /** One byte of the body every this many ms. */
  readonly everyMs?: number;
}

export function trickle(port: number, options: TrickleOptions): Trickler {
  const { method = "POST", path, headers = [], length, first = "", everyMs = 1_000 } = options;
  const head = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", ...headers.map(([name, value]) => `${name}: ${value}`), `Content-Length: ${length}`];
  let sentAt = 0;
  let answeredAt: number | undefined;
  let closedAt: number | undefined;
  let written = 0;
  let text = "";
  let timer: NodeJS.Timeout | undefined;
  const socket = net.connect(port, "127.0.0.1", () => {
    sentAt = Date.now();
    socket.write(`${head.join("\r\n")}\r\n\r\n${first}`);
    written = first.length;
    timer = setInterval(() => {
      // one byte short of the declared length at most: the body is never whole
      if (written < length - 1 && !socket.destroyed) {
        socket.write(" ");
        written += 1;
      }
    }, everyMs);
  });
  socket.on("data", (chunk: Buffer) => {
    answeredAt ??= Date.now();
    text += chunk.toString("latin1");
  });
  socket.on("error", () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on("close", () => {
      closedAt = Date.now();
      clearInterval(timer);
      resolve();
    }),
  );
  return {
    sentAt: () => sentAt,
    answeredAt: () => answeredAt,
    closedAt: () => closedAt,
    bodyBytes: () => written,
    answer: () => parseRawAnswer(text),
    closed,
    stop: () => {
      clearInterval(timer);
      socket.destroy();
    },
  };
}
