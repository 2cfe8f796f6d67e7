import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Config } from "../../../lib/config";
import type { ApiEvent, ApiResult } from "../../../lib/http/types";
import { startSsmStandIn, type SsmStandIn } from "../../support/ssm-stand-in";
import * as auth from "../../../lib/http/auth";
import * as errorResponse from "../../../lib/http/error-response";
import { configuredKey } from "../../../lib/http/key-source";
import * as types from "../../../lib/http/types";
import { lambdaContext, restEvent, setEnv, testConfig } from "../helpers";

// The Lambda's environment as the template gives it: no API_KEY, the parameter's name in API_KEY_PARAMETER.
const PARAMETER = "/comfyui-models-admin/api-key";
const lambdaConfig = testConfig({ API_KEY: undefined, API_KEY_PARAMETER: PARAMETER });

let ssm: SsmStandIn;
let saved: Record<string, string | undefined>;
let errorLog: ReturnType<typeof vi.spyOn>;

beforeAll(async () => {
  ssm = await startSsmStandIn();
});

afterAll(async () => {
  await ssm.close();
});

beforeEach(async () => {
  // the standard AWS SDK client, pointed at the stand-in as a test (or the Lambda harness) does
  const env = { ...ssm.env(), AWS_PROFILE: undefined, AWS_SESSION_TOKEN: undefined, AWS_ENDPOINT_URL: undefined };
  saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  setEnv(env);
  ssm.requests.length = 0;
  ssm.parameters.clear();
  ssm.parameters.set(PARAMETER, "first-key-0f3c9a");
  ssm.failNext(0);
  errorLog = vi.spyOn(console, "error").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  setEnv(saved);
});

/** What api() puts in front of every handler: errors as {"detail"}, then the key check with the configured source. */
function guarded(config: Config = lambdaConfig) {
  const handler = vi.fn(async () => types.jsonResponse(200, { ok: true }));
  const lambda = middy<ApiEvent, ApiResult, Error, Context>()
    .use(errorResponse.errorResponse())
    .use(auth.apiKeyAuth({ key: configuredKey(() => config) }))
    .handler(handler);
  return {
    handler,
    call: async (key: string) => {
      const response = await lambda(restEvent({ headers: { "X-API-Key": key } }), lambdaContext());
      return { status: response.statusCode, body: JSON.parse(response.body) as unknown };
    },
  };
}

describe("the API key in Lambda: an SSM SecureString named by API_KEY_PARAMETER", () => {
  it("reads the parameter once, decrypted, and answers many requests from that one read", async () => {
    const { call } = guarded();

    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await call("first-key-0f3c9a"));
    const wrong = await call("not-the-key");

    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(wrong).toEqual({ status: 401, body: { detail: "Invalid or missing API key" } });
    expect(ssm.requests).toEqual([{ target: "AmazonSSM.GetParameter", name: PARAMETER, withDecryption: true }]);
  });

  it("requests that arrive together before the first read share that read", async () => {
    const { call } = guarded();

    const answers = await Promise.all(Array.from({ length: 8 }, () => call("first-key-0f3c9a")));

    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(ssm.requests).toHaveLength(1);
  });

  it("keeps the key for five minutes, then reads it again: a rotated key is in use within five minutes", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { call } = guarded();
    const first = await call("first-key-0f3c9a");

    ssm.parameters.set(PARAMETER, "second-key-7d21e4");
    vi.setSystemTime(Date.now() + 299_000);
    const stillOld = await call("first-key-0f3c9a");
    const newTooSoon = await call("second-key-7d21e4");
    vi.setSystemTime(Date.now() + 2_000);
    const newAfter = await call("second-key-7d21e4");
    const oldAfter = await call("first-key-0f3c9a");

    expect([first.status, stillOld.status, newTooSoon.status]).toEqual([200, 200, 401]);
    expect([newAfter.status, oldAfter.status]).toEqual([200, 401]);
    expect(ssm.requests).toHaveLength(2);
  });

  it("answers 503 naming the parameter when SSM refuses, says nothing of AWS's error, and tries again next time", async () => {
    const { handler, call } = guarded();
    ssm.failNext(1);

    const failed = await call("first-key-0f3c9a");
    const next = await call("first-key-0f3c9a");

    expect(failed).toEqual({
      status: 503,
      body: { detail: `could not read the API key from SSM parameter ${PARAMETER}; try again` },
    });
    expect(JSON.stringify(failed.body)).not.toMatch(/arn:|AccessDenied|first-key/);
    // the operator's log says why
    expect(errorLog.mock.calls.flat().join("\n")).toContain("AccessDeniedException");
    expect(next.status).toBe(200);
    expect(handler).toHaveBeenCalledTimes(1);
    expect(ssm.requests).toHaveLength(2);
  });

  it("answers 503 when the parameter does not exist, and never logs or returns a key", async () => {
    ssm.parameters.clear();
    const { call } = guarded();

    const answer = await call("first-key-0f3c9a");

    expect(answer.status).toBe(503);
    expect(errorLog.mock.calls.flat().join("\n")).toContain("ParameterNotFound");
  });

  it("uses API_KEY when it is set (the pod), without asking SSM", async () => {
    const { call } = guarded(testConfig({ API_KEY: "pod-key-93be1c", API_KEY_PARAMETER: PARAMETER }));

    const pod = await call("pod-key-93be1c");
    const fromSsm = await call("first-key-0f3c9a");

    expect([pod.status, fromSsm.status]).toEqual([200, 401]);
    expect(ssm.requests).toHaveLength(0);
  });
});
