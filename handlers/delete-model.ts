import { deleteModel } from "../lib/downloads/request";
import { api } from "../lib/http/api";
import { FilenamePath } from "../lib/http/params";

export const handler = api(({ path, studio }) => deleteModel(studio, path.filename), { path: FilenamePath });
