import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { MiddlewareObj } from "@middy/core";

/** A REST API Gateway event whose body a parser may already have turned into a value. */
export type ApiEvent = Omit<APIGatewayProxyEvent, "body"> & { body: unknown };
export type ApiResult = APIGatewayProxyResult;
export type ApiMiddleware = MiddlewareObj<ApiEvent, ApiResult>;

/** A header by name, whatever case the client, API Gateway or serverless-offline gave it. */
export function header(event: Pick<ApiEvent, "headers">, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

export const JSON_HEADERS = { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" };

export const jsonResponse = (statusCode: number, data: unknown): ApiResult => ({
  statusCode,
  headers: { ...JSON_HEADERS },
  body: JSON.stringify(data),
});
