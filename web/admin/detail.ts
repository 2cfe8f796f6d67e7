/** The API's `{"detail": ...}` in words: a string as it is, a 422's list one problem a line. */
interface Issue {
  readonly loc?: readonly (string | number)[];
  readonly msg?: string;
}

const isIssue = (value: unknown): value is Issue => typeof value === "object" && value !== null && "msg" in value;

/** The request part (body, path, query) leads every location; a person needs what comes after it. */
function location(loc: readonly (string | number)[] | undefined): string {
  const parts = (loc ?? []).slice(loc?.[0] === "body" || loc?.[0] === "path" || loc?.[0] === "query" ? 1 : 0);
  return parts.join(".");
}

export function describeDetail(detail: unknown, status: number, statusText = ""): string {
  if (typeof detail === "string" && detail.trim() !== "") return detail;
  if (Array.isArray(detail) && detail.length > 0) {
    return detail
      .map((issue: unknown) => {
        if (!isIssue(issue)) return JSON.stringify(issue);
        const where = location(issue.loc);
        return where === "" ? String(issue.msg) : `${where}: ${String(issue.msg)}`;
      })
      .join("\n");
  }
  return `The service answered ${status}${statusText ? ` ${statusText}` : ""}`;
}
