import { api } from "../lib/http/api";
import { cancelJob } from "../lib/volume/request";

export const handler = api(({ studio }) => cancelJob(studio.config, "identify"));
