// What create checks of the container's cgroup before using it, against runc 1.1.5 on this host's
// layout: a frozen cgroup is refused (it would hold the init stopped for ever), a cgroup with
// processes in it is shared with a warning, and `unified` keys need cgroup v2 controllers. Runs on
// every layout (the v2 VM too): each test freezes or reads what this layout has.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HIERARCHIES, LAYOUT, V2, V2_MOUNT, cgroupDir, differentialSetup } from "../helpers/cgroups.js";

const { s, rc, ownPath: own, runcId } = differentialSetup();
/** A cgroupsPath of this test's own, below one of its own (both removed in every hierarchy at the end). */
const ownPath = (name: string) => `${own(name)}/ct`;

const FROZEN_PHRASE = "container's cgroup unexpectedly frozen";

/** Freeze `path` (made if missing) the way this layout's runtimes read it: v1 freezer or cgroup.freeze. */
function freeze(path: string, frozen: boolean): string {
  const dir = cgroupDir("freezer", path);
  mkdirSync(dir, { recursive: true });
  const file = V2 ? "cgroup.freeze" : "freezer.state";
  writeFileSync(join(dir, file), V2 ? (frozen ? "1" : "0") : frozen ? "FROZEN" : "THAWED");
  return join(dir, file);
}

describe("a frozen cgroup is refused at create", () => {
  test(`create and run -d fail with runc's words, at once, and leave the cgroup as it was (${LAYOUT})`, () => {
    const path = ownPath("frozen");
    const file = freeze(path, true);
    try {
      const bundle = s.bundle((c) => {
        c.process.args = ["sleep", "100"];
        c.linux.cgroupsPath = path;
      });
      for (const verb of [["run", "-d"], ["create"]]) {
        const theirs = runcId(`runc-frozen-${verb[0]}`);
        const r = rc.run([...verb, "--bundle", bundle, theirs], { cwd: s.dir });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(FROZEN_PHRASE);

        const id = s.id(`frozen-${verb[0]}`);
        const t0 = Date.now();
        const t = s.tsrun([...verb, "--bundle", bundle, id]);
        expect(t.stderr).toContain(`tsrun: ${FROZEN_PHRASE} (${file}: ${V2 ? "1" : "FROZEN"})`);
        expect(t.status).toBe(1);
        expect(Date.now() - t0).toBeLessThan(10_000);
        expect(s.tsrun(["state", id]).stderr).toMatch(/does not exist/);
      }
      // Someone else's frozen cgroup: still there, still frozen; nothing made in the other hierarchies.
      expect(readFileSync(file, "utf8").trim()).toBe(V2 ? "1" : "FROZEN");
      const others = HIERARCHIES.filter((h) => !file.startsWith(h.mountPoint + "/"));
      expect(others.map((h) => join(h.mountPoint, path)).filter(existsSync)).toEqual([]);
    } finally {
      freeze(path, false);
    }
  });

  test("a cgroup that would start frozen under a frozen parent is refused too (runc would hang)", () => {
    const path = ownPath("frozen-parent");
    const parent = path.slice(0, path.lastIndexOf("/"));
    freeze(parent, true);
    try {
      const bundle = s.bundle((c) => (c.linux.cgroupsPath = path));
      const t = s.tsrun(["run", "-d", "--bundle", bundle, s.id("frozen-parent")]);
      expect(t.status).toBe(1);
      expect(t.stderr).toContain(FROZEN_PHRASE);
    } finally {
      freeze(parent, false);
    }
  });

  test("on a hybrid host, a frozen cgroup2 directory is refused too (the init is cloned into it)", () => {
    if (LAYOUT !== "hybrid") {
      // The v1 and unified cases above are this layout's only freezers.
      console.log(`${LAYOUT} host: no separate cgroup2 mount next to a v1 freezer, nothing more to check`);
      expect(LAYOUT === "unified" ? V2_MOUNT : HIERARCHIES.some((h) => h.controllers.includes("freezer"))).toBeTruthy();
      return;
    }
    const path = ownPath("frozen-v2");
    const dir = join(V2_MOUNT!, path);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "cgroup.freeze"), "1");
    try {
      const bundle = s.bundle((c) => (c.linux.cgroupsPath = path));
      const t = s.tsrun(["run", "-d", "--bundle", bundle, s.id("frozen-v2")]);
      expect(t.status).toBe(1);
      expect(t.stderr).toContain(`${FROZEN_PHRASE} (${join(dir, "cgroup.freeze")}: 1)`);
    } finally {
      writeFileSync(join(dir, "cgroup.freeze"), "0");
    }
  });
});

test("a cgroup with processes in it is shared with runc's warning, by run -d and create", () => {
  const path = ownPath("shared");
  const bundle = s.bundle((c) => {
    c.process.args = ["sleep", "100"];
    c.linux.cgroupsPath = path;
  });
  const first = s.id("shared-first");
  const a = s.tsrun(["run", "-d", "--bundle", bundle, first]);
  expect(a.stderr).toBe("");
  expect(a.status).toBe(0);

  const theirs = runcId("runc-shared");
  const r = rc.run(["run", "-d", "--bundle", bundle, theirs], { cwd: s.dir, toFiles: true });
  expect(r.status).toBe(0);
  expect(r.stderr).toContain("container's cgroup is not empty: 1 process(es) found");

  const second = s.id("shared-second");
  const b = s.tsrun(["run", "-d", "--bundle", bundle, second]);
  expect(b.stderr).toBe("tsrun: warning: container's cgroup is not empty: 2 process(es) found\n");
  expect(b.status).toBe(0);
  const third = s.id("shared-third");
  const c = s.tsrun(["create", "--bundle", bundle, third]);
  expect(c.stderr).toBe("tsrun: warning: container's cgroup is not empty: 3 process(es) found\n");
  expect(c.status).toBe(0);
  expect(s.state(third).status).toBe("created");
  const procs = readFileSync(join(cgroupDir("pids", path), "cgroup.procs"), "utf8").trim().split("\n");
  expect(procs).toHaveLength(4);
  // runc's delete kills its own init only; then the rest.
  expect(rc.run(["delete", "--force", theirs]).status).toBe(0);
  for (const id of [third, second, first]) expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test(`unified keys: refused with runc's words where the controllers are v1, applied on v2 (${LAYOUT})`, () => {
  const bundle = s.bundle((c) => {
    c.process.args = ["cat", "/sys/fs/cgroup/pids.max"];
    c.linux.cgroupsPath = ownPath("unified");
    c.linux.resources = { ...c.linux.resources, unified: { "pids.max": "9" } };
  });
  const theirs = runcId("runc-unified");
  const r = rc.run(["run", "--bundle", bundle, theirs], { cwd: s.dir });
  const id = s.id("unified");
  const t = s.tsrun(["run", "--bundle", bundle, id]);
  if (V2) {
    expect([r.status, r.stdout]).toEqual([0, "9\n"]);
    expect([t.status, t.stdout, t.stderr]).toEqual([0, "9\n", ""]);
  } else {
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("invalid configuration: cannot use unified on cgroup v1");
    expect(t.status).toBe(1);
    expect(t.stderr).toBe("tsrun: config.json /linux/resources/unified: invalid configuration: cannot use unified on cgroup v1 (this host's controllers are cgroup v1: use the v1 fields)\n");
    // Refused before anything was made.
    expect(s.tsrun(["state", id]).stderr).toMatch(/does not exist/);
  }
});
