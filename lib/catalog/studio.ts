import type { Config } from "../config";
import { ListingCache } from "./list-models";
import { CatalogCache } from "./store";

/**
 * What one process keeps of its studio: the configuration, the catalogs as last parsed and the last
 * listing, each reused while the files it came from are unchanged. It is built once per process (the
 * handlers' edge in lib/http, the sidecar's main loop) and handed to whatever reads or changes the
 * studio; nothing keeps one in a module, so a test builds its own from the config it needs.
 */
export interface Studio {
  readonly config: Config;
  readonly catalogs: CatalogCache;
  readonly listing: ListingCache;
}

export const createStudio = (config: Config): Studio => ({ config, catalogs: new CatalogCache(), listing: new ListingCache() });
