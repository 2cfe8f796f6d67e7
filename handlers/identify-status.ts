import { api } from "../lib/http/api";
import { jobProgress } from "../lib/volume/request";

export const handler = api(({ studio }) => jobProgress(studio.config, "identify"));
