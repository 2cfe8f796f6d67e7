/**
 * The API's base for a page served at `<prefix>/admin`: the same prefix, so the page works under
 * `npm start` (no prefix) and behind API Gateway's stage (/prod), with or without a trailing slash.
 */
export const apiBase = (pathname: string): string => `${pathname.replace(/\/admin\/*$/, "").replace(/\/+$/, "")}/`;
