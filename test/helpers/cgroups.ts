// The host's cgroup layout for tests that name their own cgroupsPath: where a controller's files of a
// path are, the cleanup of such a path in every hierarchy, and the set-up of a file that compares with runc.
import { existsSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostHierarchies, layoutOf } from "../../src/cgroups/hierarchy.js";
import { Runc } from "./runc.js";
import { Scratch, ensureBuilt } from "./tsrun.js";

export const HIERARCHIES = hostHierarchies();
export const LAYOUT = layoutOf(HIERARCHIES);
export const V2 = LAYOUT === "unified";
/** The cgroup2 mount: the only hierarchy on a unified host, the controller-less one on a hybrid host. */
export const V2_MOUNT = HIERARCHIES.find((h) => h.version === 2)?.mountPoint;

/** The directory of cgroup `path` that holds `controller`'s files on this host (v2 on a unified host). */
export function cgroupDir(controller: string, path: string): string {
  if (V2) return join(V2_MOUNT!, path);
  const h = HIERARCHIES.find((x) => x.version === 1 && x.controllers.split(",").includes(controller));
  if (!h) throw new Error(`no v1 ${controller} hierarchy on this host`);
  return join(h.mountPoint, path);
}

export const readCgroup = (controller: string, path: string, file: string): string => readFileSync(join(cgroupDir(controller, path), file), "utf8").trim();
export const writeCgroup = (controller: string, path: string, file: string, value: string): void => writeFileSync(join(cgroupDir(controller, path), file), value);

/** rmdir `path` with its sub-cgroups, then its parents up to its first component, in every hierarchy. */
export function removeCgroupPath(path: string): void {
  const tree = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) tree(join(dir, e.name));
    rmdirSync(dir);
  };
  const parts = path.split("/").filter(Boolean);
  for (const h of HIERARCHIES) {
    const dir = join(h.mountPoint, ...parts);
    if (existsSync(dir)) tree(dir);
    for (let n = parts.length - 1; n > 0; n--) {
      const up = join(h.mountPoint, ...parts.slice(0, n));
      if (existsSync(up)) rmdirSync(up);
    }
  }
}

/**
 * A test file's scratch dir and runc side by side (beforeAll/afterAll registered here): `ownPath`
 * gives a cgroupsPath of the file's own and `runcId` a runc container id; all are removed at the end,
 * and the file's tsrun containers must leave nothing behind.
 */
export function differentialSetup(): { s: Scratch; rc: Runc; ownPath: (name: string) => string; runcId: (id: string) => string } {
  const s = new Scratch();
  const rc = new Runc(s.dir);
  const paths: string[] = [];
  const runcIds: string[] = [];
  beforeAll(() => {
    ensureBuilt();
    rc.require();
  });
  afterAll(() => {
    for (const id of runcIds) rc.run(["delete", "--force", id]);
    const leaks = s.cleanup();
    for (const p of paths) removeCgroupPath(p);
    rc.cleanup();
    expect(leaks).toEqual([]);
  });
  const ownPath = (name: string) => {
    const p = `/tsrun-test-${process.pid}-${name}`;
    paths.push(p);
    return p;
  };
  const runcId = (id: string) => {
    runcIds.push(id);
    return id;
  };
  return { s, rc, ownPath, runcId };
}
