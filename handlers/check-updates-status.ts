import { api } from "../lib/http/api";
import { updateCheckStatus } from "../lib/updates/check";

export const handler = api(() => updateCheckStatus());
