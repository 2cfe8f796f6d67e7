/**
 * A service on the pod that a catalog must not reach unless ALLOW_PRIVATE_URLS says so (issue 12, item 3):
 * a server on 127.0.0.1 that serves a model at /model.safetensors and answers everything else with a 500
 * whose body holds `INTERNAL_SECRET`. It remembers every path it was asked for.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export const INTERNAL_SECRET = "pod-internal-secret-7c2e91";

export interface InternalService {
  readonly origin: string;
  readonly model: { readonly size: number; readonly sha256: string };
  /** Every path it was asked for, in order. */
  readonly heard: string[];
  close(): Promise<void>;
}

export async function startInternalService(): Promise<InternalService> {
  const model = randomBytes(256 * 1024);
  const heard: string[] = [];
  const server = createServer((req, res) => {
    heard.push(req.url ?? "");
    if (req.url === "/model.safetensors") {
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": model.length }).end(model);
      return;
    }
    res.writeHead(500, { "content-type": "text/plain" }).end(`internal error: ${INTERNAL_SECRET}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    model: { size: model.length, sha256: createHash("sha256").update(model).digest("hex") },
    heard,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
