import { api } from "../lib/http/api";
import { metadataStatus } from "../lib/metadata/queue";

export const handler = api(() => metadataStatus());
