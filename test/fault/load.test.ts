import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectSseClients, listOnce, loadList, sseReport, warmList, writeLoadCatalog } from "../../scripts/load-kit.mjs";
import { startOwnStack, type OwnStack } from "../support/own-stack";

/**
 * The scenario of `npm run load`, short: GET /api/admin/models on a 10,000-model catalog under autocannon
 * while 20 clients read the status stream. No timing targets here (the machine is shared): every answer
 * must be a 200, and every stream must keep sending events.
 */
const MODELS = 10_000;
const SSE_CLIENTS = 20;
const CONNECTIONS = 5;
const SECONDS = 5;

describe("the listing under load, with status streams open", () => {
  let own: OwnStack;
  let sse: ReturnType<typeof connectSseClients> | undefined;

  beforeAll(async () => {
    own = await startOwnStack();
    await writeLoadCatalog(own.stack.studioDir, own.stack.modelsDir, { models: MODELS, presentEvery: 20 });
  });

  afterAll(async () => {
    sse?.stop();
    await own?.close();
  });

  it(`answers every GET with a 200 for ${SECONDS} s, and no stream stops meanwhile`, async () => {
    const first = await listOnce(own.stack.baseUrl, own.apiKey);
    expect(first).toEqual({ status: 200, total: MODELS, present: MODELS / 20 });
    sse = connectSseClients({ baseUrl: own.stack.baseUrl, apiKey: own.apiKey, count: SSE_CLIENTS });
    await sse.ready(30_000);
    const warm = await warmList({ baseUrl: own.stack.baseUrl, apiKey: own.apiKey, connections: CONNECTIONS, perConnection: 1 });
    expect(warm.failures).toBe(0);

    const from = Date.now();
    const run = await loadList({ baseUrl: own.stack.baseUrl, apiKey: own.apiKey, duration: SECONDS, connections: CONNECTIONS });
    const to = Date.now();

    console.log(`listing under load: ${JSON.stringify(run)}`);
    expect(run.requests).toBeGreaterThan(0);
    expect({ errors: run.errors, timeouts: run.timeouts, non2xx: run.non2xx }).toEqual({ errors: 0, timeouts: 0, non2xx: 0 });
    // an event a second is the stream's promise; two in five seconds leaves room for a busy machine
    const streams = sseReport(sse.clients, from, to, 60_000);
    expect(streams.errors).toBe(0);
    expect(streams.minEvents).toBeGreaterThanOrEqual(2);
  });
});
