// The load scenario, shared by `npm run load` (scripts/load.mjs) and its short run in the test suite
// (test/fault/load.test.ts): a catalog of 10,000 real-shaped models with some files on disk, SSE clients
// that keep reading GET /api/admin/models/status, and autocannon against GET /api/admin/models.
import { randomBytes } from "node:crypto";
import http from "node:http";
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import autocannon from "autocannon";

export const LIST_PATH = "/api/admin/models";
export const STATUS_PATH = "/api/admin/models/status";
/** What `npm run load` holds the service to. */
export const TARGETS = { errors: 0, ratio: 5 };

const DESTS = ["checkpoints", "vae", "loras", "diffusion_models/WanVideo/2_2", "text_encoders/t5", "upscale_models", "clip_vision"];

/** One entry as the shipped catalogs and the studio write them: a Hugging Face or a CivitAI model. */
function entry(i, dest) {
  const file = `load_model_${String(i).padStart(5, "0")}.safetensors`;
  const common = { name: `Load model ${i} [${dest}]`, file, dest, size_gb: Math.round((0.1 + (i % 70) / 10) * 100) / 100 };
  if (i % 2 === 0) {
    return {
      ...common,
      source: "huggingface",
      tags: ["sdxl", "base", `batch-${i % 13}`],
      base_model: "SDXL 1.0",
      hf_repo: `load-org/repo-${i % 97}`,
      hf_file: file,
      sha256: randomBytes(32).toString("hex"),
    };
  }
  return {
    ...common,
    source: "civitai",
    tags: ["sd15", "realistic"],
    base_model: "SD 1.5",
    civitai_version_id: String(100_000 + i),
    civitai_model_id: 10_000 + Math.floor(i / 3),
    trainedWords: ["load", `word${i % 17}`],
  };
}

/**
 * Writes a models catalog of `models` entries over several categories and nested folders (replaced whole,
 * as the service writes it), and puts every `presentEvery`-th model's file on disk.
 */
export async function writeLoadCatalog(studioDir, modelsDir, { models = 10_000, presentEvery = 20 } = {}) {
  const categories = DESTS.map((dest, c) => ({ id: `load-${c}`, name: `Load ${dest}`, models: [] }));
  const present = [];
  for (let i = 0; i < models; i++) {
    const c = i % DESTS.length;
    const model = entry(i, DESTS[c]);
    categories[c].models.push(model);
    if (i % presentEvery === 0) present.push(model);
  }
  const file = path.join(studioDir, "catalogs", "models.json");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify({ version: 21, date: "2026-03-23 15:00", categories }, null, 2));
  await rename(`${file}.tmp`, file);
  for (const model of present) {
    const target = path.join(modelsDir, model.dest, model.file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, Buffer.alloc(4096, 7));
  }
  return { models, present: present.length };
}

/** One GET of the listing: its status and the counts it reports. */
export async function listOnce(baseUrl, apiKey) {
  const response = await globalThis.fetch(`${baseUrl}${LIST_PATH}`, { headers: { "X-API-Key": apiKey } });
  const body = await response.json().catch(() => undefined);
  return { status: response.status, total: body?.stats?.total_count, present: body?.stats?.present_count };
}

/**
 * `count` clients of the status stream, each reading as a browser's EventSource does and reconnecting
 * when a stream ends. Every `data:` event's arrival time is kept.
 */
export function connectSseClients({ baseUrl, apiKey, count }) {
  const url = new URL(STATUS_PATH, baseUrl);
  let stopped = false;
  const clients = Array.from({ length: count }, (_, id) => ({ id, events: [], connects: 0, errors: [], statuses: [], request: undefined }));
  const open = (client) => {
    if (stopped) return;
    client.connects += 1;
    const request = http.get(url, { headers: { "X-API-Key": apiKey, Accept: "text/event-stream" } }, (response) => {
      client.statuses.push(response.statusCode);
      response.setEncoding("utf8");
      let buffer = "";
      response.on("data", (chunk) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith("data: ")) client.events.push(Date.now());
        }
      });
      response.on("end", () => setTimeout(() => open(client), 100));
      response.on("error", () => undefined);
    });
    request.on("error", (error) => {
      if (stopped) return;
      client.errors.push(error.message);
      setTimeout(() => open(client), 500);
    });
    client.request = request;
  };
  for (const client of clients) open(client);
  return {
    clients,
    /** Every client's first event, or a rejection after `timeoutMs`. */
    async ready(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (clients.some((client) => client.events.length === 0)) {
        if (Date.now() > deadline) throw new Error(`${clients.filter((c) => c.events.length === 0).length} SSE client(s) got no event within ${timeoutMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    stop() {
      stopped = true;
      for (const client of clients) client.request?.destroy();
    },
  };
}

/**
 * How the SSE clients fared between `from` and `to` (ms since the epoch): the fewest events a client got,
 * the longest wait for an event (the edges of the window included), and the clients that waited longer
 * than `maxGapMs`.
 */
export function sseReport(clients, from, to, maxGapMs = 3_000) {
  const perClient = clients.map((client) => {
    const inside = client.events.filter((at) => at >= from && at <= to);
    const marks = [from, ...inside, to];
    let gap = 0;
    for (let i = 1; i < marks.length; i++) gap = Math.max(gap, marks[i] - marks[i - 1]);
    return { id: client.id, events: inside.length, maxGapMs: gap, errors: client.errors.length, bad: client.statuses.filter((s) => s !== 200).length };
  });
  return {
    clients: clients.length,
    minEvents: Math.min(...perClient.map((c) => c.events)),
    maxGapMs: Math.max(...perClient.map((c) => c.maxGapMs)),
    stalled: perClient.filter((c) => c.maxGapMs > maxGapMs || c.bad > 0).map((c) => c.id),
    errors: perClient.reduce((sum, c) => sum + c.errors + c.bad, 0),
  };
}

/** autocannon against GET /api/admin/models with the key, `connections` at once for `duration` seconds. */
export async function loadList({ baseUrl, apiKey, duration, connections, timeout = 30 }) {
  const result = await autocannon({
    url: `${baseUrl}${LIST_PATH}`,
    headers: { "X-API-Key": apiKey },
    connections,
    duration,
    timeout,
  });
  const { latency } = result;
  return {
    requests: result.requests.total,
    rps: result.requests.average,
    p50: latency.p50,
    p90: latency.p90,
    p99: latency.p99,
    max: latency.max,
    ratio: latency.p50 > 0 ? latency.p99 / latency.p50 : Number.NaN,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    status5xx: result["5xx"],
    bytesPerSecond: result.throughput.average,
  };
}

/**
 * Until every connection has had a few answers: serverless-offline starts a worker per request in flight,
 * and each parses the catalog on its first; those first answers are not the service's steady state.
 */
export async function warmList({ baseUrl, apiKey, connections, perConnection = 3, timeout = 60 }) {
  const result = await autocannon({
    url: `${baseUrl}${LIST_PATH}`,
    headers: { "X-API-Key": apiKey },
    connections,
    amount: connections * perConnection,
    timeout,
  });
  return { requests: result.requests.total, failures: result.errors + result.non2xx, seconds: result.duration };
}

/** Whether a measured run meets the targets: zero errors of any kind, p99 under `ratio` times p50. */
export function verdict(run) {
  // autocannon's errors include its timeouts
  const failures = run.errors + run.non2xx;
  return { errorsOk: failures === TARGETS.errors, ratioOk: run.ratio < TARGETS.ratio };
}
