import { pauseDownload } from "../lib/downloads/queue-control";
import { api } from "../lib/http/api";
import { FilenamePath } from "../lib/http/params";

export const handler = api(({ path, studio }) => pauseDownload(studio.config, path.filename), { path: FilenamePath });
