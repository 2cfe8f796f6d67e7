import { importModels } from "../lib/catalog/import";
import { api } from "../lib/http/api";
import { formFile } from "../lib/http/body";

export const handler = api(({ body }) => importModels(formFile(body, "file")), { multipart: true });
