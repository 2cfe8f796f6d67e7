import { pauseAll } from "../lib/downloads/queue-control";
import { api } from "../lib/http/api";

export const handler = api(({ studio }) => pauseAll(studio.config));
