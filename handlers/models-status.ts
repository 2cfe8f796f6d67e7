import { SSE_HEADERS, StatusQuery, statusEvents } from "../lib/downloads/status-stream";
import { apiStream } from "../lib/http/api";

export const handler = apiStream(async ({ query }) => ({ headers: SSE_HEADERS, body: statusEvents(query.max_seconds) }), {
  query: StatusQuery,
});
