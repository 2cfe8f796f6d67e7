/** The storm the fault test fires: the same for a seed, and within what its judge can search. */
import { describe, expect, it } from "vitest";
import { stormRequests, filesOf } from "../../support/load-mutations";
import { MAX_PROJECTIONS_PER_FILE } from "../../support/serial-order";

describe("stormRequests", () => {
  const files = {
    present: ["p1", "p2"],
    active: ["a1", "a2"],
    idle: ["i1", "i2", "i3"],
    fresh: Array.from({ length: 12 }, (_, i) => `f${i}`),
    unknown: ["u1"],
  };

  it("is the same storm for the same seed, and a different one for another", () => {
    expect(stormRequests(7, files, 60, 4, ["c"])).toEqual(stormRequests(7, files, 60, 4, ["c"]));
    expect(stormRequests(7, files, 60, 4, ["c"])).not.toEqual(stormRequests(8, files, 60, 4, ["c"]));
  });

  it("puts no more requests on one file than the judge can search", () => {
    const load = new Map<string, number>();
    for (const request of stormRequests(3, files, 200, 4, ["c"])) for (const file of filesOf(request)) load.set(file, (load.get(file) ?? 0) + 1);

    expect(Math.max(...load.values())).toBeLessThanOrEqual(MAX_PROJECTIONS_PER_FILE);
  });
});
