/**
 * What the hostile-input suite sends: fast-check arbitraries for every part of a request (paths with encoded
 * traversal, unicode, very long names and bytes that are not UTF-8; queries; the key right, wrong or missing;
 * content types; JSON and multipart bodies; odd headers; methods), the catalog it runs against, and the
 * requests node:http cannot even parse, each with the status it must get.
 */
import fc from "fast-check";
import { catalog, type TestModel } from "./catalogs";
import { encodeBytes, encodeText, type RawRequest, type Route } from "./hostile-http";

/** The stack's API key: the attacks send it right, wrong, twice, in the query, or not at all. */
export const KEY = "hostile-key-0c5e9b27d4";
/** The one model on disk, so that a traversal or a DELETE has something to reach. */
export const PRESENT = "present_model.safetensors";

/** The admin page: HTML, and served without a key. */
export const isPage = (route: Route): boolean => route.path === "/admin";

const traversalPieces = [
  "..", ".", "%2e%2e", "%2e%2e%2f", "..%2f", "..%5c", "%2e%2e%5c", "%252e%252e%252f", "..%252f", "%c0%ae%c0%ae%c0%af",
  "%00", "%", "%zz", "%e2%82", "%ed%a0%80", "%f4%90%80%80", "\\", "%5c", "%2f", "%2F", "etc", "passwd", "checkpoints",
  "..\\..\\", "....//", "~", ";", "%20", "+", "%0d%0a", "%ff", "%c3%28", "A".repeat(300), PRESENT, "*", ":", "%3a",
];

/** A `{filename}` as it goes on the wire: raw, encoded, traversing, very long, or bytes that are not UTF-8. */
export const filenameSegment: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...traversalPieces), { minLength: 1, maxLength: 8 }).map((parts) => parts.join("")) },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...traversalPieces), { minLength: 1, maxLength: 6 }).map((parts) => parts.join("/")) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }).map(encodeText) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).map(encodeText) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => encodeBytes(bytes, () => false)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => encodeBytes(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom("a", "%e2%82%ac", "..%2f", "%2e", "\u00e9", "x/"), fc.integer({ min: 200, max: 3_000 }))
      .map(([piece, times]) => piece.repeat(times)),
  },
  { weight: 1, arbitrary: fc.constantFrom(PRESENT, `${PRESENT}/`, `./${PRESENT}`, `..%2f${PRESENT}`, `checkpoints%2f${PRESENT}`, `${PRESENT}%00`, `${PRESENT}%20`, `${PRESENT}.`, PRESENT.toUpperCase()) },
);

const queryPieces = [
  "max_seconds=1", "max_seconds=0", "max_seconds=-5", "max_seconds=abc", "max_seconds=1e3", "max_seconds=%", "max_seconds=901",
  "max_seconds=1&max_seconds=2", "max_seconds=0x10", "max_seconds=%00", "%", "%zz=1", "a=%zz", "a=b", `api_key=${KEY}`,
  `X-API-Key=${KEY}`, "token=abc", "=", "&&&", "filename=..%2f..%2fetc", "__proto__=1", "constructor[prototype][x]=1",
];

export const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constant("") },
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...queryPieces), { minLength: 1, maxLength: 4 }).map((parts) => `?${parts.join("&")}`) },
  {
    weight: 2,
    arbitrary: fc
      .array(fc.tuple(fc.string({ unit: "grapheme", maxLength: 12 }), fc.string({ unit: "grapheme", maxLength: 30 })), { maxLength: 4 })
      .map((pairs) => `?${pairs.map(([k, v]) => `${encodeText(k)}=${encodeText(v)}`).join("&")}`),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((bytes) => `?${encodeBytes(bytes, () => false)}`) },
);

type KeyChoice = "right" | "cased" | "none" | "empty" | "wrong" | "long" | "twice-right" | "right-then-wrong" | "in-query";
const keyChoice: fc.Arbitrary<KeyChoice> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<KeyChoice>("right") },
  { weight: 2, arbitrary: fc.constant<KeyChoice>("cased") },
  { weight: 1, arbitrary: fc.constantFrom<KeyChoice>("none", "empty", "wrong", "long", "twice-right", "right-then-wrong", "in-query") },
);

const keyName = fc.mixedCase(fc.constant("x-api-key"));

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/octet-stream",
    "multipart/form-data",
    "multipart/form-data; boundary=",
    "multipart/form-data; boundary=hostileBoundary",
    'multipart/form-data; boundary="hostileBoundary"',
    "multipart/form-data; boundary=a b c",
    ";;;",
    "",
    "application/json, text/html",
    "\u00e9/\u00e9",
  ),
);

/** A multipart body around `hostileBoundary`: the right field or a wrong one, junk, truncated, many files. */
const multipartBody: fc.Arbitrary<string> = fc
  .record({
    parts: fc.array(
      fc.record({
        field: fc.constantFrom("file", "files", "FILE", "", "file[]", '"file"'),
        filename: fc.option(fc.constantFrom("models.json", "../../evil.json", "..\\evil.json", "/etc/passwd", "a%00b.json", ""), { nil: undefined }),
        content: fc.oneof(
          fc.json(),
          fc.string({ maxLength: 200 }),
          fc.constant(JSON.stringify(catalog([{ id: "evil", name: "Evil", models: [{ name: "e", file: "../evil.safetensors", dest: "checkpoints" }] }]))),
          fc.constant(JSON.stringify(catalog([{ id: "evil", name: "Evil", models: [{ name: "e", file: "evil.safetensors", dest: "../../outside" }] }]))),
        ),
      }),
      { maxLength: 25 },
    ),
    end: fc.constantFrom("--hostileBoundary--\r\n", "--hostileBoundary", "", "--otherBoundary--\r\n", "junk"),
  })
  .map(({ parts, end }) => {
    const body = parts.map(({ field, filename, content }) => {
      const disposition = `form-data; name="${field}"${filename === undefined ? "" : `; filename="${filename}"`}`;
      return `--hostileBoundary\r\nContent-Disposition: ${disposition}\r\nContent-Type: application/json\r\n\r\n${content}\r\n`;
    });
    return body.join("") + end;
  });

const body: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 3 }).map((value) => String(JSON.stringify(value) ?? "undefined")) },
  { weight: 2, arbitrary: fc.record({ filenames: fc.oneof(fc.array(filenameSegment.map(safeDecode), { maxLength: 20 }), fc.jsonValue()) }).map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 300 }) },
  { weight: 3, arbitrary: multipartBody },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4_096 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 1, arbitrary: fc.constantFrom("{", "[", '{"filenames": [', "\u0000", "null", '"', "1e999", '{"__proto__": {"admin": true}}') },
);

const oddHeader = fc.tuple(
  fc.constantFrom("Origin", "Content-Encoding", "Accept-Encoding", "Transfer-Encoding", "Accept", "Range", "If-Range", "If-None-Match", "X-Forwarded-For", "Cookie", "Authorization", "X-Amz-Date", "X-Unknown"),
  fc.constantFrom("chrome-extension://abc", "https://evil.example", "null", "gzip", "br", "identity", "*/*", "bytes=0-1", "*", "a".repeat(2_000), "\u00e9", "", "gzip, deflate, br", "bytes=-5", "bytes=5-1", "bytes=0-0,2-3"),
);

const method = (route: Route) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(route.method) },
    { weight: 2, arbitrary: fc.constantFrom("GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS") },
    { weight: 1, arbitrary: fc.constantFrom("TRACE", "PROPFIND", "M-SEARCH", "LINK", "PURGE", "QUERY", "get") },
  );

/** A path segment as a server decodes it; as it came when it does not decode. */
export function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** One hostile request, and whether it carries the right key (then it may be answered 2xx). */
export interface Attack {
  readonly route: Route;
  readonly request: RawRequest;
  readonly keyed: boolean;
}

/** A request to one of `routes`: its method, path, query, key, headers and body each chosen at random. */
export const attack = (routes: readonly Route[]): fc.Arbitrary<Attack> =>
  fc.constantFrom(...routes).chain((route) =>
    fc
      .record({
        method: method(route),
        filename: filenameSegment,
        extra: fc.oneof({ weight: 6, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("/", "//", "/..", "/x", "/%2e%2e", "/catalog/..", "/.") }),
        query: queryString,
        key: keyChoice,
        keyName,
        contentType,
        body,
        odd: fc.array(oddHeader, { maxLength: 2 }),
      })
      .map((parts): Attack => {
        const headers: [string, string][] = [["Host", "127.0.0.1"]];
        const keyed = parts.key === "right" || parts.key === "cased";
        if (parts.key === "right") headers.push(["X-API-Key", KEY]);
        if (parts.key === "cased") headers.push([parts.keyName, KEY]);
        if (parts.key === "empty") headers.push(["X-API-Key", ""]);
        if (parts.key === "wrong") headers.push(["X-API-Key", `${KEY}x`]);
        if (parts.key === "long") headers.push(["X-API-Key", KEY.repeat(800)]);
        if (parts.key === "twice-right") headers.push(["X-API-Key", KEY], ["x-api-key", KEY]);
        if (parts.key === "right-then-wrong") headers.push(["X-API-Key", KEY], ["X-API-Key", "wrong"]);
        const query = parts.key === "in-query" ? `?api_key=${KEY}&x-api-key=${KEY}` : parts.query;
        if (parts.contentType !== undefined) headers.push(["Content-Type", parts.contentType]);
        // an invalid header value is refused by node:http before it is sent: the odd ones stay sendable
        for (const [name, value] of parts.odd) if (!/[^\t\x20-\x7e]/.test(value) && name !== "Transfer-Encoding") headers.push([name, value]);
        const urlPath = route.path.replace("{filename}", parts.filename) + parts.extra + query;
        return { route, keyed, request: { method: parts.method, path: urlPath, headers, ...(parts.body !== undefined && { body: parts.body }) } };
      }),
  );

/** The catalog of the suite: one model on disk (PRESENT), one that is not, in a nested folder. */
export const hostileModels: TestModel[] = [
  { name: "present", file: PRESENT, dest: "checkpoints", source: "url", url: "http://127.0.0.1:9/never" },
  { name: "absent", file: "absent_model.safetensors", dest: "loras/nested/deep", source: "url", url: "http://127.0.0.1:9/never" },
];

/** Any path: a random web path, or hostile segments anywhere, under the API, or before a route's last part. */
export const anyPath: fc.Arbitrary<string> = fc.oneof(
  fc.webPath(),
  fc.array(filenameSegment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join("/")}`),
  fc.array(filenameSegment, { minLength: 1, maxLength: 3 }).map((parts) => `/api/admin/${parts.join("/")}`),
  fc.array(filenameSegment, { minLength: 1, maxLength: 3 }).map((parts) => `/api/admin/models/${parts.join("/")}/catalog`),
);

const K = `X-API-Key: ${KEY}\r\n`;

/** Requests node:http cannot even parse, as bytes on the wire, each with the 4xx it must be answered. */
export const unparseableRequests: [string, string, number][] = [
  ["an unknown method", "FOO /api/admin/models HTTP/1.1\r\nHost: x\r\n\r\n", 400],
  ["garbage", "\u0000\u0001\u0002 garbage\r\n\r\n", 400],
  ["a header without a colon", "GET /api/admin/models HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400],
  ["a space in a header name", "GET /api/admin/models HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400],
  ["no Host", `GET /api/admin/models/metadata-status HTTP/1.1\r\n${K}Connection: close\r\n\r\n`, 400],
  ["Content-Length and chunked", `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\n${K}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
  ["a Content-Length that is not a number", `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\n${K}Content-Length: abc\r\n\r\n`, 400],
  ["two different Content-Lengths", `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\n${K}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400],
  ["raw UTF-8 in the path", `DELETE /api/admin/models/\u00e2\u0082\u00ac HTTP/1.1\r\nHost: x\r\n${K}\r\n`, 400],
  ["an unknown Expect", `POST /api/admin/models/download-batch HTTP/1.1\r\nHost: x\r\n${K}Expect: bogus\r\nContent-Length: 2\r\n\r\n{}`, 417],
  ["CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n", 405],
  ["a 20 KB path", `GET /api/admin/models/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n${K}\r\n`, 431],
  ["a 1 MB key", `GET /api/admin/models HTTP/1.1\r\nHost: x\r\nX-API-Key: ${"k".repeat(1024 * 1024)}\r\n\r\n`, 431],
  ["3,000 headers", `GET /api/admin/models HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 3_000 }, (_, i) => `x-h${i}: v\r\n`).join("")}\r\n`, 431],
];
