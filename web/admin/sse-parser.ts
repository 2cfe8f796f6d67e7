/**
 * Server-Sent Events from text chunks, as the HTML standard parses them. The page reads the status stream
 * with fetch (EventSource can't send the X-API-Key header), so it parses the stream itself.
 */
export type SseItem = { readonly type: "message"; readonly data: string } | { readonly type: "retry"; readonly ms: number };

export class SseParser {
  #pending = "";
  #data: string[] = [];
  #skipLineFeed = false;

  /** Feeds one chunk; returns what it completed. A line cut between chunks waits for its end. */
  feed(chunk: string): SseItem[] {
    let text = chunk;
    // "\r\n" split across two chunks is one line end, not two
    if (this.#skipLineFeed && text.startsWith("\n")) text = text.slice(1);
    if (text.length > 0) this.#skipLineFeed = text.endsWith("\r");
    const lines = (this.#pending + text).split(/\r\n|\r|\n/);
    this.#pending = lines.pop() ?? "";
    const items: SseItem[] = [];
    for (const line of lines) this.#line(line, items);
    return items;
  }

  #line(line: string, items: SseItem[]): void {
    if (line === "") {
      if (this.#data.length > 0) items.push({ type: "message", data: this.#data.join("\n") });
      this.#data = [];
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "retry" && /^\d+$/.test(value)) items.push({ type: "retry", ms: Number(value) });
  }
}

/**
 * How long to wait before reconnecting: the server's `retry:` after a stream that ended as planned, and a
 * doubling back-off (1 s to 30 s, with jitter so that many pages don't come back at once) after failures.
 */
export function reconnectDelay(failures: number, retryMs: number, random: () => number = Math.random): number {
  if (failures <= 0) return retryMs;
  const base = Math.min(30_000, 1_000 * 2 ** (failures - 1));
  return Math.round(base * (0.8 + 0.4 * random()));
}
