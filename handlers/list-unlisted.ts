import { api } from "../lib/http/api";
import { listUnlisted } from "../lib/volume/unlisted";

export const handler = api(({ studio }) => listUnlisted(studio));
