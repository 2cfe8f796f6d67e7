import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The sidecar on the pod and the Lambda functions write the same EFS volume. The access point makes every
// file access of the functions uid/gid 1000 (docs/deploy.md, "Deploy to AWS"), so the sidecar must run as that user,
// with a umask that keeps what it makes writable for it and its group; as root with umask 022 the
// functions could change nothing it made (EACCES).

const ROOT = path.resolve(__dirname, "..", "..", "..");
const read = (file: string) => readFile(path.join(ROOT, file), "utf8");

/** `key=value` lines of one section of an ini-style file (systemd unit, supervisord.conf). */
async function section(file: string, name: string): Promise<Record<string, string>> {
  const text = await read(file);
  const start = text.indexOf(`[${name}]`);
  expect(start, `${file} has a [${name}] section`).toBeGreaterThanOrEqual(0);
  const body = text.slice(start + name.length + 2).split(/^\[/m)[0]!;
  const entries = body
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#") && !line.startsWith(";"))
    .map((line) => [line.slice(0, line.indexOf("=")).trim(), line.slice(line.indexOf("=") + 1).trim()] as const);
  return Object.fromEntries(entries);
}

/** The POSIX user the runbook (docs/deploy.md) gives the access point. */
async function accessPointUser(): Promise<{ uid: string; gid: string; owner: string[] }> {
  const readme = await read("docs/deploy.md");
  const posix = /--posix-user Uid=(\d+),Gid=(\d+)/.exec(readme);
  const creation = /OwnerUid=(\d+),OwnerGid=(\d+),Permissions=(\d+)/.exec(readme);
  expect(posix, "docs/deploy.md gives the access point a POSIX user").not.toBeNull();
  expect(creation, "docs/deploy.md gives the access point's root directory its creation info").not.toBeNull();
  return { uid: posix![1]!, gid: posix![2]!, owner: [creation![1]!, creation![2]!, creation![3]!] };
}

describe("the sidecar runs as the EFS access point's user", () => {
  it("documents one POSIX user, 1000:1000, for the access point and its root directory", async () => {
    const { uid, gid, owner } = await accessPointUser();

    expect([uid, gid]).toEqual(["1000", "1000"]);
    expect(owner).toEqual(["1000", "1000", "0775"]);
  });

  it("systemd: User and Group are the access point's, and what it creates is group-writable", async () => {
    const { uid, gid } = await accessPointUser();
    const service = await section("deploy/models-admin-sidecar.service", "Service");

    expect(service.User).toBe(uid);
    expect(service.Group).toBe(gid);
    expect(service.UMask).toBe("0002");
  });

  it("supervisord: user is the access point's, and what it creates is group-writable", async () => {
    const { uid } = await accessPointUser();
    const program = await section("deploy/supervisord.conf", "program:models-admin-sidecar");

    expect(program.user).toBe(uid);
    expect(program.umask).toBe("002");
  });

  it("both run the daemon without npm, which would want a home of its own for the user", async () => {
    const service = await section("deploy/models-admin-sidecar.service", "Service");
    const program = await section("deploy/supervisord.conf", "program:models-admin-sidecar");

    expect(service.ExecStart).toBe("/usr/bin/node scripts/run.mjs daemon");
    expect(program.command).toBe("/usr/bin/node scripts/run.mjs daemon");
    expect(JSON.parse(await read("package.json")).scripts.daemon).toBe("node scripts/run.mjs daemon");
  });
});
