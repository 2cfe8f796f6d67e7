import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The code's layout as a newcomer relies on it: each folder of lib/ is one room, and no two rooms lean on
 * each other (a folder never imports one that imports it back, through any chain); the files at lib/'s root
 * are leaves that every room may use, so they import no room.
 */
const root = path.resolve(__dirname, "../..");

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(relative);
    return /\.(ts|mts|cts)$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [relative] : [];
  });
}

/** Folder -> the folders its files import (relative imports only; a folder's import of itself left out). */
function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of [...sourceFiles("lib"), ...sourceFiles("handlers")]) {
    const from = path.dirname(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const [, spec] of readFileSync(path.join(root, file), "utf8").matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      const to = path.dirname(path.normalize(path.join(from, spec!)));
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** The folders reachable from `start` (not counting itself unless a chain leads back to it). */
function reachable(graph: Map<string, Set<string>>, start: string): Set<string> {
  const seen = new Set<string>();
  const stack = [...(graph.get(start) ?? [])];
  while (stack.length > 0) {
    const folder = stack.pop()!;
    if (seen.has(folder)) continue;
    seen.add(folder);
    stack.push(...(graph.get(folder) ?? []));
  }
  return seen;
}

describe("the layout of lib/", () => {
  const graph = folderGraph();

  it("has no folder that imports, through any chain, a folder that imports it back", () => {
    const cycles = [...graph.keys()].filter((folder) => reachable(graph, folder).has(folder));
    expect(cycles).toEqual([]);
  });

  it("keeps lib/'s own files leaves: they import no folder of lib/", () => {
    expect([...(graph.get("lib") ?? [])].filter((folder) => folder.startsWith("lib/"))).toEqual([]);
  });

  it("keeps the core apart from the pod's runtime and the handlers", () => {
    const leaning = [...graph.entries()]
      .filter(([folder]) => folder.startsWith("lib") && !folder.startsWith("lib/server"))
      .flatMap(([folder, edges]) => [...edges].filter((to) => to.startsWith("lib/server") || to === "handlers").map((to) => `${folder} -> ${to}`));
    expect(leaning).toEqual([]);
  });
});
