import { link, mkdir, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { unlistedVolumeFiles } from "../../../lib/volume/inventory";
import { scanVolume } from "../../../lib/volume/scan";
import { catalogDoc, category, model, useStudio, writeCatalog } from "../helpers";

const studio = useStudio();

async function put(rel: string, bytes = 8): Promise<string> {
  const file = path.join(studio().modelsDir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes, 1));
  return file;
}

const paths = async () => (await scanVolume(studio().modelsDir)).map((file) => file.path);

describe("the volume's model files", () => {
  it("are the files with a model extension, in folders under the models folder, sorted by path", async () => {
    for (const rel of ["loras/b.safetensors", "checkpoints/a.ckpt", "vae/x.pt", "vae/y.PTH", "clip/c.bin", "unet/q.gguf", "unet/f.sft", "onnx/m.onnx", "loras/sd15/deep.safetensors"]) {
      await put(rel);
    }
    await put("loras/readme.txt");
    await put("loras/preview.png");

    expect(await paths()).toEqual([
      "checkpoints/a.ckpt",
      "clip/c.bin",
      "loras/b.safetensors",
      "loras/sd15/deep.safetensors",
      "onnx/m.onnx",
      "unet/f.sft",
      "unet/q.gguf",
      "vae/x.pt",
      "vae/y.PTH",
    ]);
    const [first] = await scanVolume(studio().modelsDir);
    expect(first).toMatchObject({ dest: "checkpoints", file: "a.ckpt", bytes: 8 });
  });

  it("leave out partial downloads, their control files, hidden files and folders, and files right in the models folder", async () => {
    await put("loras/kept.safetensors");
    await put("loras/x.safetensors.part");
    await put("loras/x.safetensors.part.json");
    await put("loras/._x.safetensors");
    await put(".cache/huggingface/y.safetensors");
    await put("loose.safetensors");

    expect(await paths()).toEqual(["loras/kept.safetensors"]);
  });

  it("are none when the models folder does not exist", async () => {
    expect(await scanVolume(path.join(studio().root, "nowhere"))).toEqual([]);
  });

  it("include a link to a file wherever it leads, with its target's size", async () => {
    const outside = path.join(studio().root, "elsewhere", "big.safetensors");
    await mkdir(path.dirname(outside), { recursive: true });
    await writeFile(outside, Buffer.alloc(100));
    await mkdir(path.join(studio().modelsDir, "checkpoints"), { recursive: true });
    await symlink(outside, path.join(studio().modelsDir, "checkpoints", "big.safetensors"));
    await symlink(path.join(studio().root, "missing.safetensors"), path.join(studio().modelsDir, "checkpoints", "dangling.safetensors"));

    const files = await scanVolume(studio().modelsDir);

    expect(files.map((file) => [file.path, file.bytes])).toEqual([["checkpoints/big.safetensors", 100]]);
  });

  it("walk a linked folder inside the models folder once, at its real path, and never one that leads outside", async () => {
    await put("loras/sd15/a.safetensors");
    // a second name for a folder already walked, a loop back up, and a way out
    await symlink(path.join(studio().modelsDir, "loras", "sd15"), path.join(studio().modelsDir, "sd15-link"));
    await symlink("..", path.join(studio().modelsDir, "loras", "up"));
    const outside = path.join(studio().root, "shared");
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, "other.safetensors"), "x");
    await symlink(outside, path.join(studio().modelsDir, "shared"));
    // a folder reached only through a link (the hidden folder is not walked itself) is walked under the link's name
    await put(".stash/deep/z.safetensors");
    await symlink(path.join(studio().modelsDir, ".stash", "deep"), path.join(studio().modelsDir, "deep-link"));

    expect(await paths()).toEqual(["deep-link/z.safetensors", "loras/sd15/a.safetensors"]);
  });
});

describe("the unlisted files", () => {
  it("are those no entry of either catalog points at, by path or by the same file under another name", async () => {
    await writeCatalog(studio(), "models", catalogDoc([category("ckpt", [model("listed.safetensors", "checkpoints"), model("absent.safetensors", "checkpoints")])]));
    await writeCatalog(studio(), "loras", catalogDoc([category("loras", [model("lora.safetensors", "loras/sd15")])]));
    const listed = await put("checkpoints/listed.safetensors");
    await put("loras/sd15/lora.safetensors");
    await put("loras/sd15/new.safetensors");
    await put("checkpoints/listed-elsewhere.safetensors");
    // a hard link to a listed file: those bytes are the catalog's already
    await link(listed, path.join(studio().modelsDir, "checkpoints", "second-name.safetensors"));

    const unlisted = await unlistedVolumeFiles(studio());

    expect(unlisted.map((file) => file.path)).toEqual(["checkpoints/listed-elsewhere.safetensors", "loras/sd15/new.safetensors"]);
  });
});
