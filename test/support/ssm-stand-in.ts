/**
 * A local stand-in for AWS Systems Manager Parameter Store's GetParameter, the one call a function makes to
 * read its key at cold start (the AWS SDK v3 client, pointed here by AWS_ENDPOINT_URL_SSM): AWS JSON 1.1,
 * `POST /` with `X-Amz-Target: AmazonSSM.GetParameter` and `{"Name", "WithDecryption"}`. Every name it is
 * asked for answers the test's value as a SecureString; it keeps what was asked, for the test to check.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SsmRequest {
  readonly target: string;
  readonly name: string;
  readonly withDecryption: boolean;
}

export interface SsmStandIn {
  readonly url: string;
  readonly requests: readonly SsmRequest[];
  close(): Promise<void>;
}

const AMZ_JSON = "application/x-amz-json-1.1";

export async function startSsmStandIn(value: string, region = "us-east-1"): Promise<SsmStandIn> {
  const requests: SsmRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      let body: { Name?: unknown; WithDecryption?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof body;
      } catch {
        // answered below as a bad request
      }
      const name = typeof body.Name === "string" ? body.Name : "";
      requests.push({ target, name, withDecryption: body.WithDecryption === true });
      if (req.method !== "POST" || target !== "AmazonSSM.GetParameter" || name === "") {
        res.writeHead(400, { "content-type": AMZ_JSON });
        res.end(JSON.stringify({ __type: "ValidationException", message: `the stand-in answers GetParameter only, not ${target || req.method}` }));
        return;
      }
      res.writeHead(200, { "content-type": AMZ_JSON });
      res.end(
        JSON.stringify({
          Parameter: {
            Name: name,
            Type: "SecureString",
            // a SecureString read without decryption is its ciphertext, never the value
            Value: body.WithDecryption === true ? value : Buffer.from(`ciphertext of ${name}`).toString("base64"),
            Version: 1,
            LastModifiedDate: Date.now() / 1000,
            ARN: `arn:aws:ssm:${region}:123456789012:parameter/${name.replace(/^\//, "")}`,
            DataType: "text",
          },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
