import { describe, expect, it } from "vitest";
import * as status from "../../../lib/state/status";
import * as check from "../../../lib/updates/request";
import { useStudio } from "../helpers";

const studio = useStudio({ CATALOG_REPO_URL: undefined });

describe("checking for updates without CATALOG_REPO_URL", () => {
  it("answers 409 saying what to set, and asks the sidecar for nothing", async () => {
    const error = await check.requestUpdateCheck(studio().config).catch((e: unknown) => e);

    expect(error).toMatchObject({ name: "ConflictError" });
    expect((error as Error).message).toMatch(/^CATALOG_REPO_URL is not set/);
    expect((await status.readStatus(studio().config)).updates).toBeUndefined();
  });

  it("reports idle, with the local version and no remote one", async () => {
    expect(await check.updateCheckStatus(studio())).toEqual({ status: "idle", remote_version: null, local_version: 0 });
  });
});
