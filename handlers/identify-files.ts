import { api } from "../lib/http/api";
import { startJob } from "../lib/volume/request";

export const handler = api(({ studio }) => startJob(studio.config, "identify"));
