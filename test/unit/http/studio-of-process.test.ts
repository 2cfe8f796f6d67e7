import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, studioOfProcess } from "../../../lib/http/api";
import { invokeApi, setEnv } from "../helpers";

const API_KEY = "unit-api-key-0123456789";

beforeEach(() => {
  vi.spyOn(console, "error").mockImplementation(() => undefined);
  return () => vi.restoreAllMocks();
});

describe("studioOfProcess: the Studio a handler builds for its process", () => {
  const names = ["PORT", "STUDIO_DIR", "API_KEY"] as const;
  const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
  afterEach(() => setEnv(saved));

  it("parses process.env once, at first use, and keeps that configuration and its caches", () => {
    setEnv({ PORT: "4123", STUDIO_DIR: "/srv/first" });
    const ofProcess = studioOfProcess();

    const first = ofProcess();
    setEnv({ PORT: "5999", STUDIO_DIR: "/srv/second" });
    const second = ofProcess();

    expect(second).toBe(first);
    expect(second.config.port).toBe(4123);
    expect(second.config.studioDir).toBe("/srv/first");
  });

  it("throws the ConfigError naming the variable on first use", () => {
    setEnv({ PORT: "not-a-port" });

    expect(() => studioOfProcess()()).toThrow(/PORT: must be a whole number/);
  });

  it("fails the request of a handler whose environment does not parse, naming the variable", async () => {
    setEnv({ PORT: "not-a-port", API_KEY });
    const fn = vi.fn(async () => ({}));

    await expect(invokeApi(api(fn), { key: API_KEY })).rejects.toThrow(/PORT: must be a whole number/);
    expect(fn).not.toHaveBeenCalled();
  });
});
