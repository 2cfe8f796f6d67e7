import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, waitFor } from "../support/fault-kit";
import { startOwnStack, type OwnStack } from "../support/own-stack";
import { trickle, type Trickler } from "../support/trickle";

/**
 * Slow bodies against the running stack (npm start): 200 connections without the key and 50 with it send
 * their headers and then a byte of their body a second. Meanwhile a keyed client lists the models once a
 * second. Before, each trickler took one of the front door's 16 upstream slots and held it while its
 * body trickled in: sixteen of them were enough for every GET to time out.
 */
const KEYLESS = 200;
const KEYED = 50;
const GETS = 20;
/** What a keyed GET may take while the tricklers run (an idle stack answers in a few tens of ms). */
const GET_MS = 1_000;
/** How long a GET is waited for before it counts as timed out. */
const GIVE_UP_MS = 3_000;
/** The front door's deadline for a whole body (lib/server/front.ts). */
const BODY_MS = 15_000;

/** How many tricklers got which answer, and how many are still connected: for the log. */
const tally = (clients: Trickler[]): string => {
  const counts: Record<string, number> = {};
  for (const client of clients) {
    const what = `${client.answer()?.status ?? "no answer"}${client.closedAt() === undefined ? " (open)" : ""}`;
    counts[what] = (counts[what] ?? 0) + 1;
  }
  return JSON.stringify(counts);
};

interface Timed {
  readonly status: number;
  readonly ms: number;
}

function timedGet(port: number, key: string, path: string): Promise<Timed> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false, headers: { "X-API-Key": key } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: Date.now() - started }));
    });
    req.setTimeout(GIVE_UP_MS, () => req.destroy());
    req.on("error", () => resolve({ status: 0, ms: Date.now() - started }));
  });
}

describe("slow bodies at the front door", () => {
  let own: OwnStack;
  let port: number;
  const keyless: Trickler[] = [];
  const keyed: Trickler[] = [];
  const gets: Timed[] = [];

  const body = (key?: string) => ({
    path: "/api/admin/models/download-batch",
    headers: [["Content-Type", "application/json"], ...(key === undefined ? [] : [["X-API-Key", key] as const])] as [string, string][],
    length: 1_000,
    first: '{"filenames": [',
  });

  beforeAll(async () => {
    own = await startOwnStack();
    port = Number(new URL(own.stack.baseUrl).port);
    // the first call of a function loads its code: not what is measured here
    expect((await timedGet(port, own.apiKey, "/api/admin/models")).status).toBe(200);
  });

  afterAll(async () => {
    for (const client of [...keyless, ...keyed]) client.stop();
    await own?.close();
  });

  it(`answers every keyed GET within ${GET_MS} ms while ${KEYLESS} keyless and ${KEYED} keyed connections trickle their bodies`, async () => {
    for (let i = 0; i < KEYLESS; i++) keyless.push(trickle(port, body()));
    for (let i = 0; i < KEYED; i++) keyed.push(trickle(port, body(own.apiKey)));
    // every one connected and trickling: the GETs measure the steady state, not 250 connects at once
    await waitFor(async () => ([...keyless, ...keyed].every((client) => client.sentAt() > 0) || undefined), "every trickler connected");
    await sleep(1_000);

    for (let i = 0; i < GETS; i++) {
      const reply = await timedGet(port, own.apiKey, "/api/admin/models");
      gets.push(reply);
      await sleep(Math.max(0, 1_000 - reply.ms));
    }

    console.log(`keyed GETs while trickling: ${gets.map((get) => `${get.status}/${get.ms}ms`).join(" ")}`);
    expect(gets.filter((get) => get.status !== 200 || get.ms > GET_MS)).toEqual([]);
  });

  it("answers a keyless trickler 401 JSON at once, without waiting for its body, and closes its connection", async () => {
    await Promise.race([Promise.all(keyless.map((client) => client.closed)), sleep(5_000)]);

    console.log(`keyless tricklers ${Date.now() - keyless[0]!.sentAt()} ms after their headers: ${tally(keyless)}`);
    const problems = keyless.flatMap((client, i) => {
      const answer = client.answer();
      const waited = (client.answeredAt() ?? Infinity) - client.sentAt();
      const out: string[] = [];
      if (answer?.status !== 401 || answer.body !== '{"detail":"Invalid or missing API key"}') out.push(`#${i}: ${answer?.status} ${answer?.body}`);
      else if (!answer.headers["content-type"]?.startsWith("application/json")) out.push(`#${i}: content-type ${answer.headers["content-type"]}`);
      if (!(waited < 5_000)) out.push(`#${i}: answered after ${waited} ms`);
      // closed a moment after the answer (what it still sent meanwhile was read and dropped), not held
      const held = (client.closedAt() ?? Infinity) - client.sentAt();
      if (!(held < 5_000)) out.push(`#${i}: connection closed after ${held} ms`);
      return out;
    });

    expect(problems.slice(0, 10)).toEqual([]);
    // its body was never whole, and the answer did not wait for it
    expect(Math.max(...keyless.map((client) => client.bodyBytes()))).toBeLessThan(1_000);
  });

  it(`answers a keyed trickler 408 JSON once its body is ${BODY_MS / 1_000} s late, and closes its connection`, async () => {
    await Promise.race([Promise.all(keyed.map((client) => client.closed)), sleep(BODY_MS + 10_000)]);

    console.log(`keyed tricklers ${Date.now() - keyed[0]!.sentAt()} ms after their headers: ${tally(keyed)}`);
    const problems = keyed.flatMap((client, i) => {
      const answer = client.answer();
      const after = (client.answeredAt() ?? Infinity) - client.sentAt();
      const out: string[] = [];
      if (answer?.status !== 408 || !/"detail":"Request body/.test(answer.body)) out.push(`#${i}: ${answer?.status} ${answer?.body}`);
      if (!(after >= BODY_MS - 100 && after < BODY_MS + 5_000)) out.push(`#${i}: answered after ${after} ms`);
      if (client.closedAt() === undefined) out.push(`#${i}: connection still open`);
      return out;
    });

    expect(problems.slice(0, 10)).toEqual([]);
    console.log(`first 408: ${JSON.stringify(keyed[0]?.answer())}`);
  });
});
