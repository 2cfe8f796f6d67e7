import { api } from "../lib/http/api";
import { metadataStatus } from "../lib/metadata/request";

export const handler = api(({ studio }) => metadataStatus(studio.config));
