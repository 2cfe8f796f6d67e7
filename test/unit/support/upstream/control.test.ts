// The stand-in's control side: its request log, in order and with what each request carried, the per-file
// counters, and reset.
import { describe, expect, it } from "vitest";
import { raw, useUpstream } from "./harness";

const stand = useUpstream();

describe("observability", () => {
  it("logs host, authorization, range and user-agent of each request, in order", async () => {
    await stand.client.register({ id: "acme/m/x.bin", size: 1000 });
    await stand.client.setTokens({ hf: "hf_tok" });
    await fetch(stand.client.hfUrl("acme/m/x.bin"), { headers: { Authorization: "Bearer hf_tok", "User-Agent": "engine/1.0" } }).then((r) =>
      r.arrayBuffer(),
    );
    await raw(stand.client.fileUrl("acme/m/x.bin"), { headers: { Range: "bytes=0-9", "If-Range": '"x"' } });

    const log = await stand.client.log();
    expect(log.map((e) => e.route)).toEqual(["hf-resolve", "cdn", "files"]);
    const [resolve, cdn, plain] = log;
    expect(resolve).toMatchObject({
      method: "GET",
      path: "/acme/m/resolve/main/x.bin",
      host: `127.0.0.1:${stand.up.port}`,
      authorization: "Bearer hf_tok",
      userAgent: "engine/1.0",
      status: 302,
      fileId: "acme/m/x.bin",
      finished: true,
    });
    // fetch drops Authorization on a cross-origin redirect, and the CDN is on the other host name
    expect(cdn).toMatchObject({ host: `localhost:${stand.up.port}`, authorization: null, status: 200, bytesSent: 1000 });
    expect(cdn?.path).toMatch(/^\/cdn\/acme\/m\/x\.bin\?sig=/);
    expect(plain).toMatchObject({ range: "bytes=0-9", ifRange: '"x"', status: 200, bytesSent: 1000 });
    expect(log.map((e) => e.seq)).toEqual([...log.map((e) => e.seq)].sort((a, b) => a - b));

    expect(await stand.client.stats("acme/m/x.bin")).toEqual({ requests: 3, gets: 2, bytesSent: 2000 });
    await stand.client.reset();
    expect(await stand.client.log()).toEqual([]);
    await expect(stand.client.stats("acme/m/x.bin")).rejects.toThrow(/404/);
  });
});
