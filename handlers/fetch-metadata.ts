import { api } from "../lib/http/api";
import { queueMetadata } from "../lib/metadata/request";

export const handler = api(({ studio }) => queueMetadata(studio));
