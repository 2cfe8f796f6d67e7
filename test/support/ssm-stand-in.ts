/**
 * A stand-in for AWS Systems Manager's GetParameter on 127.0.0.1, speaking the AWS JSON 1.1 protocol as the
 * real service does (POST / with `X-Amz-Target: AmazonSSM.GetParameter`). Point the standard AWS SDK v3 client
 * at it with `AWS_ENDPOINT_URL_SSM=<url>`, `AWS_REGION` and dummy credentials in the environment.
 *
 * It answers every parameter it holds as a SecureString, records each request (name, WithDecryption), and
 * can be told to fail the next requests the way SSM does (a 400 with `__type` and `message`).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface SsmRequest {
  readonly target: string | undefined;
  readonly name: unknown;
  readonly withDecryption: unknown;
}

export interface SsmFailure {
  readonly status: number;
  readonly type: string;
  readonly message: string;
}

export interface SsmStandIn {
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: SsmRequest[];
  /** The parameters it holds, by name; change them to rotate a key. */
  readonly parameters: Map<string, string>;
  /** The next `count` requests fail with `failure`. */
  failNext(count: number, failure?: SsmFailure): void;
  /** The environment that points the AWS SDK at it. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

const ACCESS_DENIED: SsmFailure = {
  status: 400,
  type: "AccessDeniedException",
  message: "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: ssm:GetParameter",
};

export async function startSsmStandIn(parameters: Record<string, string> = {}): Promise<SsmStandIn> {
  const held = new Map(Object.entries(parameters));
  const requests: SsmRequest[] = [];
  let failures: { left: number; failure: SsmFailure } = { left: 0, failure: ACCESS_DENIED };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const target = req.headers["x-amz-target"] as string | undefined;
      let body: { Name?: unknown; WithDecryption?: unknown } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        // answered below as a bad request
      }
      requests.push({ target, name: body.Name, withDecryption: body.WithDecryption });
      const answer = (status: number, data: unknown) => {
        res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(data));
      };
      if (failures.left > 0) {
        failures.left--;
        const { status, type, message } = failures.failure;
        return answer(status, { __type: type, message });
      }
      if (req.method !== "POST" || target !== "AmazonSSM.GetParameter" || typeof body.Name !== "string") {
        return answer(400, { __type: "ValidationException", message: "not a GetParameter request" });
      }
      const value = held.get(body.Name);
      if (value === undefined) return answer(400, { __type: "ParameterNotFound", message: "" });
      return answer(200, {
        Parameter: {
          Name: body.Name,
          Type: "SecureString",
          Value: value,
          Version: 1,
          ARN: `arn:aws:ssm:us-east-1:123456789012:parameter/${body.Name.replace(/^\//, "")}`,
          DataType: "text",
          LastModifiedDate: Date.now() / 1000,
        },
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    parameters: held,
    failNext: (count, failure = ACCESS_DENIED) => {
      failures = { left: count, failure };
    },
    env: () => ({
      AWS_ENDPOINT_URL_SSM: url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDSTANDIN",
      AWS_SECRET_ACCESS_KEY: "stand-in-secret",
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
