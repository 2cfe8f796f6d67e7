import { syncCatalog } from "../lib/catalog/sync";
import { api } from "../lib/http/api";

export const handler = api(({ studio }) => syncCatalog(studio));
