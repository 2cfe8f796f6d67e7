import { readFile } from "node:fs/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { bigCatalog, catalogFile, writeCatalog } from "../support/catalogs";
import { LAMBDA_REQUEST_BYTES, type LambdaCloud } from "../support/lambda-cloud";
import { form, KEY, smallCatalog, startSeededCloud, type Listing } from "../support/lambda-fixtures";

// Lambda's 6 MB limits on the cloud path, proven by running the packaged functions as lambda-runtime.test.ts
// does, under the same describe. Only the functions these tests call are started (at their first request).

const MiB = 1024 * 1024;
const SIX_MB = 6 * MiB;

describe("the packaged functions in the Lambda Node.js runtime, behind the packaged REST API", () => {
  let cloud: LambdaCloud;
  let studioDir: string;
  const key = { "X-API-Key": KEY, Accept: "application/json" };

  beforeAll(async () => {
    ({ cloud, studioDir } = await startSeededCloud());
  }, 120_000);

  afterAll(async () => {
    await cloud?.close();
  });

  afterEach((context) => {
    if (context.task.result?.state === "fail") console.log(`the functions' output:\n${cloud.logs().slice(-60).join("\n")}`);
  });

  describe("payload limits (6 MB per invocation, each way)", () => {
    it("makes every media type binary, and each CORS preflight converts to text (a mock integration fails on binary)", () => {
      const preflights = Object.values(cloud.template.Resources).filter((r) => r.Type === "AWS::ApiGateway::Method" && r.Properties.HttpMethod === "OPTIONS");

      expect(cloud.restApi.BinaryMediaTypes).toContain("*/*");
      expect(preflights.length).toBeGreaterThan(10);
      expect(preflights.map((m) => (m.Properties.Integration as { ContentHandling?: string }).ContentHandling)).toEqual(preflights.map(() => "CONVERT_TO_TEXT"));
    });

    it("lists 50,000 models within Lambda's 6 MB: gzip-compressed for a client that accepts it", async () => {
      await writeCatalog(studioDir, "models", bigCatalog(50_000, "cloud"));

      // as a browser's fetch asks (the admin page, the extension), and curl --compressed
      const reply = await cloud.request("GET", "/api/admin/models", { headers: { ...key, Accept: "*/*", "Accept-Encoding": "gzip, deflate, br" } });
      const listing = reply.json<Listing>();

      expect(reply.lambda.resultBytes).toBeLessThan(SIX_MB);
      expect(reply.status).toBe(200);
      expect(reply.headers["content-encoding"]).toBe("gzip");
      expect(listing.stats.total_count).toBe(50_000);
      expect(listing.categories.flatMap((c) => c.models)).toHaveLength(50_000);
    }, 60_000);

    it("answers a client that cannot take the 50,000 compressed with 406 saying how to ask, not a bare 502", async () => {
      const reply = await cloud.request("GET", "/api/admin/models", { headers: key });

      expect(reply.lambda.resultBytes).toBeLessThan(SIX_MB);
      expect(reply.status).toBe(406);
      expect(reply.json<{ detail: string }>().detail).toMatch(
        /^The answer is 16\.\d MB, more than AWS Lambda can return uncompressed \(6 MB\): ask for it compressed with the header 'Accept-Encoding: gzip' \(curl --compressed\)$/,
      );
      await writeCatalog(studioDir, "models", smallCatalog());
    }, 60_000);

    it("answers 413 JSON to a body over 4 MB that Lambda still delivers, and writes nothing", async () => {
      const before = await readFile(catalogFile(studioDir, "models"), "utf8");
      const document = JSON.stringify(bigCatalog(14_500, "too-big"));
      const upload = await form(document);
      // the largest body whose event Lambda still takes (base64, 4/3)
      const edge = await form(`${document}${" ".repeat(Math.floor(((LAMBDA_REQUEST_BYTES - 64 * 1024) * 3) / 4) - upload.body.length)}`);

      const over = await cloud.request("POST", "/api/admin/models/import", { headers: { ...key, "Content-Type": upload.type }, body: upload.body });
      const atEdge = await cloud.request("POST", "/api/admin/models/import", { headers: { ...key, "Content-Type": edge.type }, body: edge.body });

      expect(upload.body.length).toBeGreaterThan(4 * MiB);
      expect(over.lambda.eventBytes).toBeLessThan(LAMBDA_REQUEST_BYTES);
      expect([over.status, over.json()]).toEqual([413, { detail: "Request body is larger than 4 MB" }]);
      expect(atEdge.lambda.eventBytes).toBeLessThan(LAMBDA_REQUEST_BYTES);
      expect([atEdge.status, atEdge.json()]).toEqual([413, { detail: "Request body is larger than 4 MB" }]);
      expect(await readFile(catalogFile(studioDir, "models"), "utf8")).toBe(before);
    }, 60_000);

    it("leaves bodies Lambda cannot take to API Gateway, as {detail} JSON: 413 Request Too Long up to 10 MB, its own 413 above", async () => {
      const lambdaRefuses = await form(" ".repeat(5 * MiB));
      const gatewayRefuses = await form(" ".repeat(10 * MiB + 1));

      const mid = await cloud.request("POST", "/api/admin/models/import", { headers: { ...key, "Content-Type": lambdaRefuses.type }, body: lambdaRefuses.body });
      const huge = await cloud.request("POST", "/api/admin/models/import", { headers: { ...key, "Content-Type": gatewayRefuses.type }, body: gatewayRefuses.body });

      expect(mid.lambda.eventBytes).toBeGreaterThan(LAMBDA_REQUEST_BYTES);
      expect([mid.status, mid.json()]).toEqual([413, { detail: "Request Too Long" }]);
      expect([huge.status, huge.json()]).toEqual([413, { detail: "Request body is larger than 10 MB" }]);
    }, 60_000);
  });
});
