import { civitaiMap } from "../lib/catalog/civitai-map";
import { api } from "../lib/http/api";

export const handler = api(({ studio }) => civitaiMap(studio));
