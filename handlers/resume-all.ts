import { resumeAll } from "../lib/downloads/queue-control";
import { api } from "../lib/http/api";

export const handler = api(({ studio }) => resumeAll(studio.config));
