import { api } from "../lib/http/api";
import { updateCheckStatus } from "../lib/updates/request";

export const handler = api(({ studio }) => updateCheckStatus(studio));
