/**
 * STUDIO_DIR and MODELS_DIR must not overlap. With the studio inside the models folder, the models scan
 * would take its state files and catalogs for models' files (and a delete of one would remove them), and
 * a catalog entry's `dest` could aim a download at `state/status.json`. The same holds, the other way
 * round, for models inside the studio's own folders. Models in another folder under the studio (the
 * default `./.studio/ComfyUI/models` off a pod) touch neither.
 */
import { realpathSync } from "node:fs";
import path from "node:path";
import { isWithin } from "./within";

/** What the service itself keeps in STUDIO_DIR. */
const STUDIO_OWN = ["catalogs", "state", ".repo", "api-key"];

/** `dir` with the links among its existing folders resolved; the part that does not exist yet as given. */
function realFolder(dir: string): string {
  let rest = "";
  for (let at = dir; ; at = path.dirname(at)) {
    try {
      return path.join(realpathSync(at), rest);
    } catch {
      if (at === path.dirname(at)) return dir;
      rest = path.join(path.basename(at), rest);
    }
  }
}

type Overlap = "same" | "studio inside" | `models inside ${string}`;

function overlap(studio: string, models: string): Overlap | undefined {
  if (studio === models) return "same";
  if (isWithin(studio, models)) return "studio inside";
  const own = STUDIO_OWN.find((name) => isWithin(models, path.join(studio, name)));
  return own === undefined ? undefined : `models inside ${own}`;
}

/**
 * Why `studioDir` and `modelsDir` (absolute) cannot be used together, or undefined when they are apart.
 * Compared as given and with links resolved, so that a link cannot hide an overlap.
 */
export function foldersOverlap(studioDir: string, modelsDir: string): string | undefined {
  const real = { studio: realFolder(studioDir), models: realFolder(modelsDir) };
  const found = overlap(studioDir, modelsDir) ?? overlap(real.studio, real.models);
  if (found === undefined) return undefined;
  const studio = `STUDIO_DIR (${studioDir}${real.studio === studioDir ? "" : `, really ${real.studio}`})`;
  const models = `MODELS_DIR (${modelsDir}${real.models === modelsDir ? "" : `, really ${real.models}`})`;
  const what =
    found === "same"
      ? `${studio} and ${models} are the same folder`
      : found === "studio inside"
        ? `${studio} is inside ${models}`
        : `${models} is inside the studio's own ${found.slice("models inside ".length)} in ${studio}`;
  return (
    `${what}: the models scan would take the studio's state files and catalogs for models, and a catalog ` +
    "entry could overwrite them. Keep them in separate folders, e.g. STUDIO_DIR=/workspace/studio and " +
    "MODELS_DIR=/workspace/ComfyUI/models (MODELS_DIR defaults to $COMFYUI_DIR/models)"
  );
}
