import { api } from "../lib/http/api";
import { readActivity } from "../lib/state/activity-log";

export const handler = api(({ studio }) => readActivity(studio.config));
