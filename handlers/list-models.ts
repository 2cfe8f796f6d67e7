import { listModels } from "../lib/catalog/list-models";
import { api } from "../lib/http/api";

export const handler = api(({ studio }) => listModels(studio));
