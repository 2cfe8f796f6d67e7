import { api } from "../lib/http/api";
import { readSettings } from "../lib/state/settings";

export const handler = api(({ studio }) => readSettings(studio.config));
