import { SSE_HEADERS, StatusQuery, statusEvents } from "../lib/downloads/status-stream";
import { apiStream } from "../lib/http/api";

export const handler = apiStream(async ({ query, studio }) => ({ headers: SSE_HEADERS, body: statusEvents(studio.config, query.max_seconds) }), {
  query: StatusQuery,
});
