import { describe, expect, it } from "vitest";
import { reconnectDelay, SseParser } from "../../../web/admin/sse-parser";

describe("the status stream's parser", () => {
  it("gives one message per event, its data lines joined", () => {
    const parser = new SseParser();

    expect(parser.feed('data: {"a":1}\n\ndata: line one\ndata: line two\n\n')).toEqual([
      { type: "message", data: '{"a":1}' },
      { type: "message", data: "line one\nline two" },
    ]);
  });

  it("waits for the rest of an event cut between chunks, wherever the cut is", () => {
    const text = 'data: {"downloads":{"a.safetensors":{"percent":42}}}\r\n\r\nretry: 2000\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const parser = new SseParser();
      const items = [...parser.feed(text.slice(0, cut)), ...parser.feed(text.slice(cut))];
      expect(items).toEqual([
        { type: "message", data: '{"downloads":{"a.safetensors":{"percent":42}}}' },
        { type: "retry", ms: 2000 },
      ]);
    }
  });

  it("reads the server's retry hint and ignores comments, other fields and a bad retry", () => {
    const parser = new SseParser();

    expect(parser.feed(": keep-alive\nevent: status\nid: 7\nretry: soon\nretry: 1500\n\n")).toEqual([{ type: "retry", ms: 1500 }]);
  });

  it("accepts every line ending the standard allows, and data with no space after the colon", () => {
    const parser = new SseParser();

    expect(parser.feed("data:x\r\rdata: y\n\n")).toEqual([
      { type: "message", data: "x" },
      { type: "message", data: "y" },
    ]);
  });

  it("dispatches nothing for an event without data", () => {
    expect(new SseParser().feed("\n\n\n")).toEqual([]);
  });
});

describe("reconnecting to the status stream", () => {
  it("waits the server's retry after a stream that ended as planned", () => {
    expect(reconnectDelay(0, 2_000)).toBe(2_000);
  });

  it("backs off from 1 s, doubling up to 30 s, with jitter of a fifth either way", () => {
    const middle = () => 0.5;

    expect([1, 2, 3, 4, 5, 6, 7].map((failures) => reconnectDelay(failures, 2_000, middle))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect(reconnectDelay(1, 2_000, () => 0)).toBe(800);
    expect(reconnectDelay(1, 2_000, () => 1)).toBe(1_200);
  });
});
