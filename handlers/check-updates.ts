import { api } from "../lib/http/api";
import { requestUpdateCheck } from "../lib/updates/request";

export const handler = api(({ studio }) => requestUpdateCheck(studio.config));
