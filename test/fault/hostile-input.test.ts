import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog, placeModel, writeCatalog } from "../support/catalogs";
import { anyPath, attack, hostileModels, isPage, KEY, PRESENT, queryString, safeDecode, unparseableRequests, type Attack } from "../support/hostile-attacks";
import { answerProblems, declaredRoutes, parseRawAnswer, pathsUnder, rawRequest, rawSocket, snapshotChanges, stateSnapshot } from "../support/hostile-http";
import type { RawReply, RawRequest, Route } from "../support/hostile-http";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { tempDirs } from "../support/stack";

/**
 * Hostile input against the running stack (npm start: front door, serverless-offline, sidecar), over real
 * HTTP: every route of serverless.yml with random and malicious paths, queries, headers and bodies. Each
 * answer must be 2xx JSON or a 4xx JSON {"detail"}, never a 5xx or a bare error page; a request without the
 * right key never gets a 2xx; a refused request changes nothing on disk; and nothing is ever written
 * outside $MODELS_DIR and $STUDIO_DIR. fast-check runs with a fixed seed: FC_SEED=<n> replays another.
 * What the requests are made of: test/support/hostile-attacks.ts.
 */
const SEED = Number(process.env.FC_SEED ?? 7_2026);
const RUNS = Number(process.env.FC_RUNS ?? 200);

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

  /** Outside the studio and the models folder: everything under the temp root but those two and the log. */
  const outside = async () =>
    (await pathsUnder(root)).filter(
      (entry) =>
        !entry.startsWith(own.stack.studioDir) && !entry.startsWith(own.stack.modelsDir) && entry !== own.stack.logFile,
    );

  const snapshot = () => stateSnapshot(own.stack.studioDir, own.stack.modelsDir);

  /**
   * Until the sidecar has done what an accepted request asked of it (an identify, a verify, a metadata
   * fetch): its writes meanwhile would be taken for those of the next request, refused or not.
   */
  const sidecarDone = async (): Promise<void> => {
    const busy = (status: Record<string, unknown>) =>
      ["identify", "verify"].some((job) => ["queued", "running"].includes((status[job] as { status?: string } | undefined)?.status ?? "")) ||
      Object.values((status.metadata ?? {}) as Record<string, { status: string }>).some((entry) => entry.status.endsWith("_metadata"));
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
      if (!busy(await own.readStatus().catch(() => ({})))) return;
    }
    throw new Error("the sidecar was still at what an accepted request asked after 20 s");
  };

  beforeAll(async () => {
    console.log(`hostile input: fast-check seed ${SEED}, ${RUNS} runs a property (FC_SEED=${SEED} FC_RUNS=${RUNS} replays)`);
    routes = await declaredRoutes();
    const dirs = await tempDirs("models-admin-hostile-");
    root = dirs.root;
    decoy = path.join(root, "decoy");
    await mkdir(decoy, { recursive: true });
    await writeFile(path.join(decoy, "precious.txt"), "must stay");
    await writeCatalog(dirs.studioDir, "models", catalog([{ id: "hostile", name: "Hostile", models: hostileModels }]));
    await placeModel(dirs.modelsDir, hostileModels[0]!, 4096);
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
      await sidecarDone();
      await placeModel(own.stack.modelsDir, hostileModels[0]!, 4096);
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
    const problems: string[] = [];
    for (const [what, bytes, status] of unparseableRequests) {
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
