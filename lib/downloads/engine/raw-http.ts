/**
 * A GET whose body is read straight into the download's own buffers: the socket is opened with Node's
 * `onread` option, so the kernel copies each read into the region of a write batch the connection names
 * (writer.ts), with no Buffer allocated per chunk, no stream machinery and no copy. Node's HTTP client costs
 * about twice the CPU for the same bytes (its parser, a 64 KiB Buffer per read, and the garbage collector
 * behind them: 1.5 s of a 2 GiB download's profile was the collector).
 *
 * It only does what a byte range of a model needs: HTTP/1.1, one request per connection (`Connection:
 * close`), a body of a known length. The caller falls back to Node's client (http.ts) for any answer that is
 * not a plain 206 it can take: a redirect, a refusal, a chunked body. The address policy is the same as for
 * every request of the sidecar's (lib/net/address-policy.ts): the address connected to is the one checked.
 */
import net from "node:net";
import tls from "node:tls";
import { checkDestination, mayReachAnyAddress, publicOnlyLookup, type AddressPolicy } from "../../net/address-policy";
import { NoAnswerError } from "../../net/request";

/** A response's head larger than this is not a download's. */
const MAX_HEAD_BYTES = 64 * 1024;
/** Where a read goes when no body region is wanted (after the end, or while the head is read). */
const SCRATCH_BYTES = 64 * 1024;

/** What reads the body: where each read goes, what arrived, and the end. */
export interface BodyReader {
  /** The region the next read fills (at least 1 byte): called before each read. */
  region(): Buffer;
  /** `bytes` arrived at the start of the last region; false pauses the body (resume() goes on). */
  data(bytes: number, region: Buffer): boolean | void;
  /** The body ended (the server closed it) or failed. */
  end(error?: Error): void;
}

export interface RawResponse {
  readonly raw: true;
  readonly statusCode: number;
  /** Header names in lower case; a repeated header's values joined with ", ". */
  readonly headers: Readonly<Record<string, string>>;
  /** Starts reading the body into `reader`'s regions. */
  read(reader: BodyReader): void;
  pause(): void;
  resume(): void;
  destroy(error?: Error): void;
}

export interface RawGetOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly policy: AddressPolicy;
  readonly signal: AbortSignal;
  readonly headersTimeoutMs: number;
}

function parseHead(text: string): { statusCode: number; headers: Record<string, string> } | undefined {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (status === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { statusCode: Number(status), headers };
}

const requestText = (url: URL, headers: Readonly<Record<string, string>>): string =>
  `GET ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n` +
  Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("") +
  "\r\n";

/** Sends a GET to `url` and resolves once its head is in; the body waits for read(). */
export function rawGet(url: URL, options: RawGetOptions): Promise<RawResponse> {
  try {
    checkDestination(url, options.policy);
    if (Object.values(options.headers).some((value) => /[\r\n]/.test(value))) throw new Error("a header value holds a line break");
  } catch (error) {
    return Promise.reject(error);
  }
  const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  let head = Buffer.alloc(0);
  let body: BodyReader | undefined;
  let ended = false;
  const onread = {
    buffer: (): Buffer => (body && !ended ? body.region() : scratch),
    callback: (bytes: number, region: Buffer): boolean => {
      if (ended) return true;
      // a read taken before the reader came (its region was asked for while the head was read) is copied once
      const go = !body ? (onHead(region.subarray(0, bytes)), !answered) : region === scratch ? deliver(body, region.subarray(0, bytes)) : body.data(bytes, region) !== false;
      // paused here rather than by answering false: socket.resume() then knows to read again
      if (!go) socket.pause();
      return true;
    },
  };
  const secure = url.protocol === "https:";
  const port = Number(url.port) || (secure ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const lookup = mayReachAnyAddress(url, options.policy) ? undefined : publicOnlyLookup();
  const socket = secure
    ? // onread is tls.connect's too (Node's docs), not in its types
      tls.connect({ host, port, ...(net.isIP(host) === 0 && { servername: host }), ALPNProtocols: ["http/1.1"], ...(lookup && { lookup }), onread } as tls.ConnectionOptions)
    : net.connect({ host, port, ...(lookup && { lookup }), onread });
  socket.setNoDelay(true);

  let answered = false;
  let resolveHead!: (response: RawResponse) => void;
  let rejectHead!: (error: Error) => void;
  const answer = new Promise<RawResponse>((resolve, reject) => {
    resolveHead = resolve;
    rejectHead = reject;
  });
  const timer = setTimeout(() => socket.destroy(new NoAnswerError(`No answer from ${url.host} within ${options.headersTimeoutMs / 1000} s`)), options.headersTimeoutMs);
  const onAbort = () => socket.destroy(Object.assign(new Error("The request was aborted"), { name: "AbortError", code: "ABORT_ERR" }));
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener("abort", onAbort, { once: true });

  /** How the socket ended, kept for a reader that comes after it did. */
  let endedWith: Error | undefined;
  const close = (error?: Error) => {
    if (ended) return;
    ended = true;
    endedWith = error;
    clearTimeout(timer);
    options.signal.removeEventListener("abort", onAbort);
    if (!answered) rejectHead(error ?? new Error(`${url.host} closed the connection before it answered`));
    else body?.end(error);
  };
  socket.once("error", (error) => close(error));
  socket.once("end", () => close());
  socket.once("close", () => close());
  socket.once(secure ? "secureConnect" : "connect", () => socket.write(requestText(url, options.headers)));

  /** Copies `bytes` into the reader's regions; false when it asked for a pause. */
  function deliver(reader: BodyReader, bytes: Buffer): boolean {
    let go = true;
    for (let at = 0; at < bytes.length && !ended; ) {
      const region = reader.region();
      const copied = bytes.copy(region, 0, at, Math.min(bytes.length, at + region.length));
      at += copied;
      if (reader.data(copied, region) === false) go = false;
    }
    return go;
  }

  function onHead(bytes: Buffer): void {
    head = Buffer.concat([head, bytes]);
    const endOfHead = head.indexOf("\r\n\r\n");
    if (endOfHead < 0) {
      if (head.length > MAX_HEAD_BYTES) socket.destroy(new Error(`The answer of ${url.host} has a head over ${MAX_HEAD_BYTES} bytes`));
      return;
    }
    const parsed = parseHead(head.subarray(0, endOfHead).toString("latin1"));
    if (!parsed) return void socket.destroy(new Error(`${url.host} did not answer in HTTP/1.1`));
    // an informational answer (103 Early Hints) comes before the real one
    if (parsed.statusCode < 200 && parsed.statusCode !== 101) {
      head = head.subarray(endOfHead + 4);
      return onHead(Buffer.alloc(0));
    }
    answered = true;
    clearTimeout(timer);
    const leftover = Buffer.from(head.subarray(endOfHead + 4));
    socket.pause();
    resolveHead({
      raw: true,
      ...parsed,
      read(reader) {
        body = reader;
        // the body bytes that came with the head, put where the reader wants them
        const go = deliver(reader, leftover);
        // the socket ended or failed before the reader came: it hears of it now, not never
        if (ended) reader.end(endedWith);
        else if (go) socket.resume();
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      destroy: (error) => socket.destroy(error),
    });
  }
  return answer;
}
