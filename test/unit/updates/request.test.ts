import { beforeEach, describe, expect, it } from "vitest";
import { useStudio } from "../helpers";

useStudio({ CATALOG_REPO_URL: undefined });
let check: typeof import("../../../lib/updates/request");
let status: typeof import("../../../lib/state/status");

beforeEach(async () => {
  check = await import("../../../lib/updates/request");
  status = await import("../../../lib/state/status");
});

describe("checking for updates without CATALOG_REPO_URL", () => {
  it("answers 409 saying what to set, and asks the sidecar for nothing", async () => {
    const error = await check.requestUpdateCheck().catch((e: unknown) => e);

    expect(error).toMatchObject({ name: "ConflictError" });
    expect((error as Error).message).toMatch(/^CATALOG_REPO_URL is not set/);
    expect((await status.readStatus()).updates).toBeUndefined();
  });

  it("reports idle, with the local version and no remote one", async () => {
    expect(await check.updateCheckStatus()).toEqual({ status: "idle", remote_version: null, local_version: 0 });
  });
});
