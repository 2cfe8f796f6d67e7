import { api } from "../lib/http/api";
import { requestUpdateCheck } from "../lib/updates/check";

export const handler = api(() => requestUpdateCheck());
