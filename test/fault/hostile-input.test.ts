import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, placeModel, writeCatalog, type TestModel } from "../support/catalogs";
import {
  answerProblems,
  declaredRoutes,
  encodeBytes,
  encodeText,
  parseRawAnswer,
  pathsUnder,
  rawRequest,
  rawSocket,
  snapshotChanges,
  stateSnapshot,
  type RawReply,
  type RawRequest,
  type Route,
} from "../support/hostile-http";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { tempDirs } from "../support/stack";

/**
 * Hostile input against the running stack (npm start: front door, serverless-offline, sidecar), over real
 * HTTP: every route of serverless.yml with random and malicious paths, queries, headers and bodies. Each
 * answer must be 2xx JSON or a 4xx JSON {"detail"}, never a 5xx or a bare error page; a request without the
 * right key never gets a 2xx; a refused request changes nothing on disk; and nothing is ever written
 * outside $MODELS_DIR and $STUDIO_DIR. fast-check runs with a fixed seed: FC_SEED=<n> replays another.
 */
const SEED = Number(process.env.FC_SEED ?? 7_2026);
const RUNS = Number(process.env.FC_RUNS ?? 200);
const KEY = "hostile-key-0c5e9b27d4";
const PRESENT = "present_model.safetensors";

const isPage = (route: Route): boolean => route.path === "/admin";

// ---- what a request is made of ----

const traversalPieces = [
  "..", ".", "%2e%2e", "%2e%2e%2f", "..%2f", "..%5c", "%2e%2e%5c", "%252e%252e%252f", "..%252f", "%c0%ae%c0%ae%c0%af",
  "%00", "%", "%zz", "%e2%82", "%ed%a0%80", "%f4%90%80%80", "\\", "%5c", "%2f", "%2F", "etc", "passwd", "checkpoints",
  "..\\..\\", "....//", "~", ";", "%20", "+", "%0d%0a", "%ff", "%c3%28", "A".repeat(300), PRESENT, "*", ":", "%3a",
];

/** A `{filename}` as it goes on the wire: raw, encoded, traversing, very long, or bytes that are not UTF-8. */
const filenameSegment: fc.Arbitrary<string> = fc.oneof(
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

const queryString: fc.Arbitrary<string> = fc.oneof(
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

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

interface Attack {
  readonly route: Route;
  readonly request: RawRequest;
  readonly keyed: boolean;
}

const attack = (routes: readonly Route[]): fc.Arbitrary<Attack> =>
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

// ---- the stack and what must not change ----

describe("hostile input", () => {
  let own: OwnStack;
  let routes: Route[];
  let root: string;
  let decoy: string;
  let outsideBefore: string[];
  let tmpBefore: Set<string>;
  const sentNames = new Set<string>();
  const tally = { requests: 0, refused: 0, accepted: 0 };
  const port = () => Number(new URL(own.stack.baseUrl).port);

  const models: TestModel[] = [
    { name: "present", file: PRESENT, dest: "checkpoints", source: "url", url: "http://127.0.0.1:9/never" },
    { name: "absent", file: "absent_model.safetensors", dest: "loras/nested/deep", source: "url", url: "http://127.0.0.1:9/never" },
  ];

  /** Outside the studio and the models folder: everything under the temp root but those two and the log. */
  const outside = async () =>
    (await pathsUnder(root)).filter(
      (entry) =>
        !entry.startsWith(own.stack.studioDir) && !entry.startsWith(own.stack.modelsDir) && entry !== own.stack.logFile,
    );

  const snapshot = () => stateSnapshot(own.stack.studioDir, own.stack.modelsDir);

  beforeAll(async () => {
    console.log(`hostile input: fast-check seed ${SEED}, ${RUNS} runs a property (FC_SEED=${SEED} FC_RUNS=${RUNS} replays)`);
    routes = await declaredRoutes();
    const dirs = await tempDirs("models-admin-hostile-");
    root = dirs.root;
    decoy = path.join(root, "decoy");
    await mkdir(decoy, { recursive: true });
    await writeFile(path.join(decoy, "precious.txt"), "must stay");
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "hostile", name: "Hostile", models }]));
    await placeModel(dirs.modelsDir, models[0]!, 4096);
    tmpBefore = new Set(await readdir(os.tmpdir()));
    own = await startOwnStack({ API_KEY: KEY }, dirs);
    outsideBefore = await outside();
  });

  afterAll(async () => {
    console.log(`hostile input: ${tally.requests} requests, ${tally.refused} refused (4xx), ${tally.accepted} accepted (2xx)`);
    if (!own) return;
    const hits = await own.secretsOnDisk();
    await own.close();
    expect(hits).toEqual([]);
  });

  /** Sends one request and checks the answer and, for a refusal, that nothing changed on disk. */
  async function probe({ route, request, keyed }: Attack): Promise<RawReply> {
    sentNames.add(path.basename(safeDecode(request.path.split("?")[0] ?? "")));
    const before = await snapshot();
    const reply = await rawRequest(port(), request);
    tally.requests += 1;
    const problems = answerProblems(request, reply, isPage(route));
    if (!keyed && !isPage(route) && reply.status >= 200 && reply.status < 300) {
      problems.push(`${request.method} ${request.path.slice(0, 120)}: ${reply.status} without the right key`);
    }
    if (reply.status >= 400) {
      tally.refused += 1;
      const changes = snapshotChanges(before, await snapshot());
      if (changes.length > 0) problems.push(`${request.method} ${request.path.slice(0, 120)} answered ${reply.status} but changed: ${changes.join("; ")}`);
    } else {
      tally.accepted += 1;
      // a request that was fine by chance may change things (a DELETE of the model on disk): put it back
      await placeModel(own.stack.modelsDir, models[0]!, 4096);
    }
    if (problems.length > 0) throw new Error(`${problems.join("\n")}\nrequest: ${JSON.stringify({ ...request, body: String(request.body ?? "").slice(0, 300) })}`);
    return reply;
  }

  it("lists the routes of serverless.yml, each attacked below", () => {
    expect(routes.length).toBeGreaterThanOrEqual(15);
    expect(routes).toContainEqual({ method: "DELETE", path: "/api/admin/models/{filename}" });
  });

  it("answers every random request on every route with JSON: 2xx, or 4xx {detail}; never 5xx, never a change when refused", async () => {
    await fc.assert(
      fc.asyncProperty(attack(routes), async (a) => {
        await probe(a);
      }),
      { seed: SEED, numRuns: RUNS * 2 },
    );
  });

  it("answers random paths anywhere, any method, with JSON", async () => {
    const anyPath = fc.oneof(
      fc.webPath(),
      fc.array(filenameSegment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join("/")}`),
      fc.array(filenameSegment, { minLength: 1, maxLength: 3 }).map((parts) => `/api/admin/${parts.join("/")}`),
      fc.array(filenameSegment, { minLength: 1, maxLength: 3 }).map((parts) => `/api/admin/models/${parts.join("/")}/catalog`),
    );
    await fc.assert(
      fc.asyncProperty(anyPath, fc.constantFrom("GET", "POST", "DELETE", "HEAD", "PUT", "OPTIONS"), queryString, async (urlPath, verb, query) => {
        const target = urlPath === "" ? "/" : urlPath.startsWith("/") ? urlPath : `/${urlPath}`;
        const route = { method: verb, path: target };
        await probe({ route, keyed: true, request: { method: verb, path: target + query, headers: [["Host", "x"], ["X-API-Key", KEY]] } });
      }),
      { seed: SEED + 1, numRuns: RUNS },
    );
  });

  it("refuses bodies over 10 MB on every POST route with 413 {detail}, with a length or chunked, and changes nothing", async () => {
    const huge = Buffer.alloc(10 * 1024 * 1024 + 4096, 0x20);
    const posts = routes.filter((route) => route.method === "POST");
    for (const route of posts) {
      const urlPath = route.path.replace("{filename}", PRESENT);
      for (const chunkBytes of [undefined, 256 * 1024]) {
        for (const type of ["application/json", "multipart/form-data; boundary=hostileBoundary"]) {
          const request: RawRequest = {
            method: "POST",
            path: urlPath,
            headers: [["X-API-Key", KEY], ["Content-Type", type]],
            body: huge,
            ...(chunkBytes !== undefined && { chunkBytes }),
          };
          const reply = await probe({ route, keyed: true, request });
          expect(reply.status, `${urlPath} ${chunkBytes ?? "length"} ${type}`).toBe(413);
          expect(JSON.parse(reply.text)).toEqual({ detail: "Request body is larger than 10 MB" });
        }
      }
    }
  });

  it("answers the next request of a keep-alive client that was refused a body (it was left waiting)", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (method: string, urlPath: string, payload?: Buffer) =>
      new Promise<number>((resolve) => {
        const req = http.request({ host: "127.0.0.1", port: port(), method, path: urlPath, agent, headers: { "X-API-Key": KEY } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.setTimeout(5_000, () => req.destroy());
        req.on("error", () => resolve(0));
        req.end(payload);
      });
    const huge = Buffer.alloc(11 * 1024 * 1024, 0x20);

    const refused = await send("POST", "/api/admin/models/download-batch", huge);
    const next = await send("GET", "/api/admin/models/metadata-status");
    agent.destroy();

    expect(refused).toBe(413);
    expect(next).toBe(200);
  });

  it.each(["gzip", "deflate", "br", "gzip, gzip", "x-unknown"])(
    "refuses a body sent with Content-Encoding %s with 415, and the API stays up (a junk one killed serverless-offline)",
    async (encoding) => {
      const route = { method: "POST", path: "/api/admin/models/download-batch" };
      const refused = await probe({
        route,
        keyed: true,
        request: { ...route, headers: [["X-API-Key", KEY], ["Content-Type", "application/json"], ["Content-Encoding", encoding]], body: "not compressed at all" },
      });
      const after = await rawRequest(port(), { method: "GET", path: "/api/admin/models/metadata-status", headers: [["X-API-Key", KEY]] });

      expect(refused.status).toBe(415);
      expect(JSON.parse(refused.text)).toEqual({ detail: `Content-Encoding '${encoding}' is not supported: send the body uncompressed` });
      expect(after.status).toBe(200);
    },
  );

  it("refuses an upload cut off inside a file part with 400, and the API stays up (busboy's throw killed serverless-offline)", async () => {
    const route = { method: "POST", path: "/api/admin/models/import" };
    const cut = '--hostileBoundary\r\nContent-Disposition: form-data; name="file"; filename="models.json"\r\n\r\n{"categories": [';
    const refused = await probe({
      route,
      keyed: true,
      request: { ...route, headers: [["X-API-Key", KEY], ["Content-Type", "multipart/form-data; boundary=hostileBoundary"]], body: cut },
    });
    // the exception came a moment after the answer
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await rawRequest(port(), { method: "GET", path: "/api/admin/models/metadata-status", headers: [["X-API-Key", KEY]] });

    expect(refused.status).toBe(400);
    expect(after.status).toBe(200);
    expect(await own.log()).not.toMatch(/Uncaught exception|stopped unexpectedly/);
  });

  it("answers requests node:http cannot even parse with a JSON 4xx", async () => {
    const K = `X-API-Key: ${KEY}\r\n`;
    const raw: [string, string, number][] = [
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
    const problems: string[] = [];
    for (const [what, bytes, status] of raw) {
      const before = await snapshot();
      const { text, leaks } = await rawSocket(port(), Buffer.from(bytes, "latin1"));
      tally.requests += 1;
      tally.refused += 1;
      const answer = parseRawAnswer(text);
      if (leaks.length > 0) problems.push(`${what}: a credential in the answer`);
      if (!answer) problems.push(`${what}: no HTTP answer: ${JSON.stringify(text.slice(0, 120))}`);
      else {
        if (answer.status !== status) problems.push(`${what}: ${answer.status}, expected ${status}`);
        if (!answer.headers["content-type"]?.startsWith("application/json")) problems.push(`${what}: content-type ${answer.headers["content-type"]}`);
        if (!/^\{"detail":/.test(answer.body)) problems.push(`${what}: body ${JSON.stringify(answer.body.slice(0, 120))}`);
      }
      const changes = snapshotChanges(before, await snapshot());
      if (changes.length > 0) problems.push(`${what}: changed ${changes.join("; ")}`);
    }
    expect(problems).toEqual([]);
  });

  it("answers random request lines and header blocks on a raw socket with a JSON 4xx, or passes them to a route", async () => {
    const token = fc.string({ unit: fc.constantFrom(..."GETPOSTDELHA-_/\\%.~ \t\u0000\u00ff:?#@!".split("")), minLength: 0, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(token, token, fc.constantFrom("HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "http/1.1", ""), fc.array(fc.tuple(token, token), { maxLength: 4 }), async (verb, target, version, headers) => {
        const block = `${verb} ${target} ${version}\r\nHost: x\r\nX-API-Key: ${KEY}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}Connection: close\r\n\r\n`;
        const before = await snapshot();
        const { text, leaks } = await rawSocket(port(), Buffer.from(block, "latin1"), 2_000);
        tally.requests += 1;
        const answer = parseRawAnswer(text);
        expect(leaks).toEqual([]);
        expect(answer, `no answer to ${JSON.stringify(block)}: ${JSON.stringify(text.slice(0, 100))}`).toBeDefined();
        expect(answer!.status, JSON.stringify(block)).toBeLessThan(500);
        if (answer!.status >= 400) {
          tally.refused += 1;
          expect(answer!.headers["content-type"], JSON.stringify(block)).toMatch(/^application\/json/);
          if (verb !== "HEAD") expect(answer!.body, JSON.stringify(block)).toMatch(/^\{"detail":/);
          expect(snapshotChanges(before, await snapshot())).toEqual([]);
        } else {
          tally.accepted += 1;
        }
      }),
      { seed: SEED + 2, numRuns: Math.ceil(RUNS / 3) },
    );
  });

  it("left no crash, restart or internal error in the stack's log", async () => {
    const log = await own.log();

    expect(log).not.toMatch(/Uncaught exception|stopped unexpectedly|Internal error|front door:|TypeError|RangeError/);
    expect(own.stack.process.exitCode).toBeNull();
  });

  it("never wrote anything outside the studio and the models folder", async () => {
    expect(await readFile(path.join(decoy, "precious.txt"), "utf8")).toBe("must stay");
    expect(await outside()).toEqual(outsideBefore);
    // a file named like one of the names sent, new in the temp folder, would have come from a traversal
    const strays = (await readdir(os.tmpdir())).filter((name) => !tmpBefore.has(name) && sentNames.has(name));
    expect(strays).toEqual([]);
  });
});
