import { describe, expect, it } from "vitest";
import { pathParameters } from "../../../lib/http/api";
import { BadRequestError, statusOf } from "../../../lib/http/error-response";

describe("pathParameters", () => {
  it("decodes what API Gateway hands over still percent-encoded", () => {
    const params = pathParameters({ pathParameters: { filename: "my%20model%20(v2)%20%C3%A9.safetensors" } }, false);

    expect(params).toEqual({ filename: "my model (v2) é.safetensors" });
  });

  it("does not decode again what serverless-offline already decoded", () => {
    const params = pathParameters({ pathParameters: { filename: "a%20b.safetensors" } }, true);

    expect(params).toEqual({ filename: "a%20b.safetensors" });
  });

  it("answers 400 for malformed percent-encoding", () => {
    let error: unknown;
    try {
      pathParameters({ pathParameters: { filename: "bad%E0%A4%A.safetensors" } }, false);
    } catch (thrown) {
      error = thrown;
    }

    expect(error).toBeInstanceOf(BadRequestError);
    expect(statusOf(error)).toBe(400);
  });

  it("gives an empty object for a route without parameters", () => {
    expect(pathParameters({ pathParameters: null }, false)).toEqual({});
  });
});
