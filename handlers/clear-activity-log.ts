import { api } from "../lib/http/api";
import { clearActivity } from "../lib/state/activity-log";

export const handler = api(({ studio }) => clearActivity(studio.config));
