/** What the tests of api() share: one studio with a key and the origins a pod would have, and a way to call a handler. */
import { beforeEach, vi } from "vitest";
import { createStudio, type Studio } from "../../../lib/catalog/studio";
import { invokeApi, testConfig, type ApiHandler, type EventOptions } from "../helpers";

export const API_KEY = "unit-api-key-0123456789";
const theStudio = createStudio(testConfig({ API_KEY, CORS_ORIGINS: "chrome-extension://*" }));
export const studio = (): Studio => theStudio;

/** The error log of the handlers, kept off the test output. */
export function quietErrors(): void {
  beforeEach(() => {
    vi.spyOn(console, "error").mockImplementation(() => undefined);
    return () => vi.restoreAllMocks();
  });
}

/** Calls a composed handler as API Gateway would, with this file's key unless told otherwise (`key: null` sends none). */
export const invoke = (handler: ApiHandler, { key = API_KEY, ...event }: EventOptions & { key?: string | null } = {}) =>
  invokeApi(handler, { ...event, key });
