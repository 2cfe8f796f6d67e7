/**
 * The routes of the packaged REST API, read from the template as API Gateway would serve them: each
 * method's resource path, the function its Lambda proxy integration invokes, whether it streams, and how
 * long API Gateway and Lambda wait; and the route a request's path lands on.
 */
import path from "node:path";
import type { CfnResource, CfnTemplate } from "./package";

export interface LambdaFunction {
  readonly logicalId: string;
  /** The zip's name without `.zip`: serverless.yml's key, e.g. `listModels`. */
  readonly name: string;
  readonly properties: Record<string, unknown>;
}

export interface Route {
  readonly method: string;
  /** The API Gateway resource, e.g. `/api/admin/models/{filename}`. */
  readonly resource: string;
  readonly fn: LambdaFunction;
  readonly streaming: boolean;
  readonly timeoutMs: number;
}

const segments = (p: string) => p.split("/").filter((s) => s !== "");

export function apiRoutes(template: CfnTemplate): Route[] {
  const resources = template.Resources;
  const pathOf = (ref: unknown): string => {
    const id = (ref as { Ref?: string }).Ref;
    if (id === undefined) return "";
    const resource = resources[id]!.Properties;
    return `${pathOf(resource.ParentId)}/${resource.PathPart as string}`;
  };
  return Object.values(resources)
    .filter((r) => r.Type === "AWS::ApiGateway::Method" && r.Properties.HttpMethod !== "OPTIONS")
    .map((method) => {
      const integration = method.Properties.Integration as { Uri: unknown; ResponseTransferMode?: string; TimeoutInMillis?: number };
      const target = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(JSON.stringify(integration.Uri))?.[1];
      const fn = resources[target ?? ""] as CfnResource | undefined;
      if (!fn) throw new Error(`${JSON.stringify(method.Properties.ResourceId)}: no Lambda function behind its integration`);
      const key = (fn.Properties.Code as { S3Key: string }).S3Key;
      const timeout = Number(fn.Properties.Timeout ?? 3) * 1000;
      const streaming = integration.ResponseTransferMode === "STREAM";
      return {
        method: method.Properties.HttpMethod as string,
        resource: pathOf(method.Properties.ResourceId) || "/",
        fn: { logicalId: target!, name: path.basename(key, ".zip"), properties: fn.Properties },
        streaming,
        // API Gateway gives up after the integration's timeout (29 s unless set), Lambda after the function's
        timeoutMs: Math.min(timeout, integration.TimeoutInMillis ?? (streaming ? timeout : 29_000)),
      };
    });
}

/** The route of a request, and its path parameters as sent (percent-encoded); undefined: no such route. */
export function matchRoute(routes: readonly Route[], method: string, url: string): { route: Route; pathParameters: Record<string, string> | null } | undefined {
  const wanted = segments(new URL(url, "https://example.invalid").pathname);
  // API Gateway takes the resource whose literal segments match first, then the method on it
  const literal = (parts: string[]) => parts.filter((p) => !p.startsWith("{")).length;
  const candidates = routes
    .map((route) => ({ route, parts: segments(route.resource) }))
    .filter(({ parts }) => parts.length === wanted.length && parts.every((part, i) => /^\{.+\}$/.test(part) || part === wanted[i]))
    .sort((a, b) => literal(b.parts) - literal(a.parts));
  const resource = candidates[0]?.route.resource;
  const found = candidates.find(({ route }) => route.resource === resource && route.method === method);
  if (!found) return undefined;
  const params = Object.fromEntries(found.parts.flatMap((part, i) => (part.startsWith("{") ? [[part.slice(1, -1), wanted[i]!]] : [])));
  return { route: found.route, pathParameters: Object.keys(params).length > 0 ? params : null };
}
