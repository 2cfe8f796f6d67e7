/**
 * The hash cache lives in lib/state/hash-cache.ts: the listing (lib/catalog) reads it for `verified`, and
 * lib/catalog may not import this folder, which imports lib/catalog. Kept so that imports of it stay good.
 */
export * from "../state/hash-cache";
