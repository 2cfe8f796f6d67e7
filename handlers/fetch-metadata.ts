import { api } from "../lib/http/api";
import { queueMetadata } from "../lib/metadata/queue";

export const handler = api(() => queueMetadata());
