/**
 * Containment, for any path: lib/within.ts's isWithin against path.relative as the reference, and
 * lib/catalog/paths.ts's modelPath, which must never give a path outside the models folder, whatever a
 * catalog entry says, and must give one inside it for every entry the catalog schema accepts.
 */
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { modelPath } from "../../lib/catalog/paths";
import { SafeDest, SafeFileName } from "../../lib/catalog/schema";
import { isWithin } from "../../lib/within";

// segments that make containment hard: look-alike prefixes, dots, separators, traversals
const segment = fc.constantFrom("a", "ab", "b", "a.b", ".a", "..a", "a..", "...", "..", ".", "", "a b", "é", "\\", "a\\..", "C:", "~");
const absolute = fc.array(segment, { maxLength: 5 }).map((parts) => path.resolve("/", ...parts));

/** The reference: `dir` is `root` or below it when the way from root to dir never climbs out. */
const reference = (dir: string, root: string): boolean => {
  const way = path.relative(root, dir);
  return way === "" || (way !== ".." && !way.startsWith(`..${path.sep}`) && !path.isAbsolute(way));
};

describe("isWithin", () => {
  it("agrees with path.relative for any two absolute, resolved paths", () => {
    fc.assert(fc.property(absolute, absolute, (dir, root) => isWithin(dir, root) === reference(dir, root)));
  });

  it("holds a root and everything below it, and nothing that only shares its name's beginning", () => {
    fc.assert(
      fc.property(absolute, fc.array(segment, { maxLength: 4 }), fc.constantFrom("x", "-old", ".bak", " "), (root, below, suffix) => {
        expect(isWithin(path.resolve(root, ...below.filter((s) => s !== ".." && s !== "")), root)).toBe(true);
        if (root !== "/") expect(isWithin(`${root}${suffix}`, root)).toBe(false);
        if (root !== "/") expect(isWithin(path.dirname(root), root)).toBe(false);
      }),
    );
  });
});

describe("modelPath", () => {
  const modelsDir = "/srv/ComfyUI/models";
  const name = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/"));

  it("never gives a path outside the models folder, whatever the entry says", () => {
    fc.assert(
      fc.property(name, name, fc.constantFrom(modelsDir, `${modelsDir}/`, "/", "/srv/ComfyUI/models/../models"), (dest, file, dir) => {
        let full: string;
        try {
          full = modelPath({ dest, file }, dir);
        } catch {
          return true;
        }
        const root = path.resolve(dir);
        return isWithin(full, root) && full !== root;
      }),
    );
  });

  it("gives every entry the schema accepts a place below the models folder, named as its file", () => {
    const accepted = (value: string, schema: typeof SafeDest) => schema.safeParse(value).success;
    fc.assert(
      fc.property(
        name.filter((dest) => accepted(dest, SafeDest)),
        name.filter((file) => accepted(file, SafeFileName)),
        (dest, file) => {
          const full = modelPath({ dest, file }, modelsDir);
          expect(isWithin(path.dirname(full), modelsDir)).toBe(true);
          expect(path.relative(modelsDir, full)).toBe(path.join(dest, file));
        },
      ),
    );
  });
});
