import { resumeDownload } from "../lib/downloads/queue-control";
import { api } from "../lib/http/api";
import { FilenamePath } from "../lib/http/params";

export const handler = api(({ path, studio }) => resumeDownload(studio.config, path.filename), { path: FilenamePath });
