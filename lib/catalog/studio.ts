import type { Config } from "../config";
import { ListingCache } from "./list-models";
import { CatalogCache } from "./store";

/**
 * What one process keeps of its studio: the configuration, the catalogs as last parsed and the last
 * listing, each reused while the files it came from are unchanged. Each handler's edge builds one at its
 * first request (lib/http/api.ts: in Lambda a process runs one handler), the sidecar one for its workers;
 * it is handed to whatever reads or changes the studio. Nothing keeps one in a module, so a test builds
 * its own from the config it needs.
 */
export interface Studio {
  readonly config: Config;
  readonly catalogs: CatalogCache;
  readonly listing: ListingCache;
}

export const createStudio = (config: Config): Studio => ({ config, catalogs: new CatalogCache(), listing: new ListingCache() });
