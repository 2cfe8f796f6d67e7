import { removeFromCatalog } from "../lib/catalog/remove";
import { api } from "../lib/http/api";
import { FilenamePath } from "../lib/http/params";

export const handler = api(({ path, studio }) => removeFromCatalog(studio, path.filename), { path: FilenamePath });
