import { addModel, AddRequest } from "../lib/add/add";
import { api } from "../lib/http/api";

export const handler = api(({ body, studio }) => addModel(studio, body), { body: AddRequest });
