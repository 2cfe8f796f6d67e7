import { describe, expect, it } from "vitest";
import { apiBase } from "../../../web/admin/base";
import { describeDetail } from "../../../web/admin/detail";

describe("the API's errors in words", () => {
  it("shows a detail string as it is", () => {
    expect(describeDetail("Model 'x.safetensors' not found in catalog", 404)).toBe("Model 'x.safetensors' not found in catalog");
  });

  it("shows a 422's problems one a line, without the request part", () => {
    const detail = [
      { loc: ["body", "categories", 0, "models", 1, "file"], msg: "must not contain '..'", type: "custom" },
      { loc: ["file"], msg: "Invalid JSON", type: "json" },
      { loc: [], msg: "Empty", type: "x" },
    ];

    expect(describeDetail(detail, 422)).toBe("categories.0.models.1.file: must not contain '..'\nfile: Invalid JSON\nEmpty");
  });

  it("says the status when there is no detail to show", () => {
    expect(describeDetail(undefined, 502, "Bad Gateway")).toBe("The service answered 502 Bad Gateway");
    expect(describeDetail("", 500)).toBe("The service answered 500");
  });
});

describe("where the page finds the API", () => {
  it("at its own prefix: none under npm start, the stage behind API Gateway", () => {
    expect(apiBase("/admin")).toBe("/");
    expect(apiBase("/admin/")).toBe("/");
    expect(apiBase("/prod/admin")).toBe("/prod/");
  });
});
