import { importModels } from "../lib/catalog/import";
import { api } from "../lib/http/api";
import { formFile } from "../lib/http/body";

export const handler = api(({ body, studio }) => importModels(studio, formFile(body, "file")), { multipart: true });
