// Idmapped bind mounts on a real kernel (mount uidMappings/gidMappings, the idmap and ridmap options;
// issue 18): owners seen through the mount from inside and on the host, with and without a user
// namespace of the container's own, recursive over a sub-mount, and the refusal for a filesystem the
// kernel cannot idmap. The expected owners follow runc's own tests (tests/integration/idmap.bats): a
// mount's containerID is the id on the filesystem, its hostID the id the container's processes see
// (from the host's side). No differential run: runc 1.1.5, the runc installed here, has no idmapped
// mounts (they came with runc 1.2), so there is nothing of runc's to compare with.
import { execFileSync } from "node:child_process";
import { chownSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { release } from "node:os";
import { join } from "node:path";
import { Scratch, TOP, ensureBuilt } from "../helpers/tsrun.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));

const kernelAtLeast = (major: number, minor: number) => {
  const [a = 0, b = 0] = release().split(".").map((x) => parseInt(x, 10));
  return a > major || (a === major && b >= minor);
};
// mount_setattr came with Linux 5.12; an older kernel refuses every idmapped mount (checked below).
const HAVE_IDMAP = kernelAtLeast(5, 12);
// tmpfs can be idmapped since Linux 6.3 (the sub-mount of the recursive test is a tmpfs).
const TMPFS_IDMAP = kernelAtLeast(6, 3);
// overlayfs takes idmapped lower layers since Linux 5.19 (tsrun.idmapLayers).
const LAYERS_IDMAP = kernelAtLeast(5, 19);
const LAYERED = join(TOP, "bundles/layered");

const M = (containerID: number, hostID: number, size: number) => [{ containerID, hostID, size }];
const USERNS = M(0, 100000, 65536);

/** The container's own user namespace: root is host uid/gid 100000. */
function userns(c: any): void {
  c.linux.namespaces.push({ type: "user" });
  c.linux.uidMappings = USERNS;
  c.linux.gidMappings = USERNS;
}

/** `tsrun run` of a shell script in a busybox container changed by `edit`. */
function run(script: string, edit: (c: any) => void) {
  const b = s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  return s.tsrun(["run", "--bundle", b, s.id("idm")]);
}

function inside(script: string, edit: (c: any) => void): string {
  const r = run(script, edit);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** A host directory owned by `dirOwner` with `files`: name -> uid:gid. The kernel lets nobody write in a
 *  directory whose owner the idmapped mount does not map (EACCES), so a volume is owned by an id it maps. */
function hostDir(name: string, files: Record<string, [number, number]>, dirOwner: [number, number] = [0, 0]): string {
  const dir = join(s.dir, name);
  mkdirSync(dir, { mode: 0o755 });
  chownSync(dir, ...dirOwner);
  for (const [f, [u, g]] of Object.entries(files)) {
    writeFileSync(join(dir, f), `${f}\n`);
    chownSync(join(dir, f), u, g);
  }
  return dir;
}

const owner = (path: string) => `${statSync(path).uid}:${statSync(path).gid}`;
const bind = (destination: string, source: string, options: string[], extra: object = {}) => ({ destination, type: "bind", source, options, ...extra });

(HAVE_IDMAP ? describe : describe.skip)("idmapped bind mounts (Linux >= 5.12)", () => {
  test("with a user namespace: a file root makes appears on the host as the mapped id, a host file inside as its mapped id", () => {
    // The container's root is host 100000; the mount shows filesystem ids 5000.. as host 100000..: so
    // through it root's files are 5000 on disk, and a file of 5007:5009 on disk is 7:9 inside.
    const dir = hostDir("userns", { "host.txt": [5007, 5009] }, [5000, 5000]);
    const out = inside("touch /mnt/by-root && mkdir /mnt/dir-by-root && stat -c %u:%g /mnt/host.txt && stat -c %u:%g /srv/host.txt", (c) => {
      userns(c);
      c.mounts.push(bind("/mnt", dir, ["bind"], { uidMappings: M(5000, 100000, 1000), gidMappings: M(5000, 100000, 1000) }));
      // The same directory bound without mappings: its ids are not mapped into the container's namespace.
      c.mounts.push(bind("/srv", dir, ["bind"]));
    });
    expect(out.trim().split("\n")).toEqual(["7:9", "65534:65534"]);
    expect(owner(join(dir, "by-root"))).toBe("5000:5000");
    expect(owner(join(dir, "dir-by-root"))).toBe("5000:5000");
  });

  test("uid and gid mappings apply separately", () => {
    const dir = hostDir("split", { "f.txt": [300, 700] }, [290, 680]);
    const out = inside("stat -c %u:%g /mnt/f.txt && touch /mnt/new", (c) => {
      userns(c);
      c.mounts.push(bind("/mnt", dir, ["bind"], { uidMappings: M(290, 100000, 20), gidMappings: M(680, 100000, 50) }));
    });
    expect(out.trim()).toBe("10:20");
    expect(owner(join(dir, "new"))).toBe("290:680");
  });

  test("idmap without mappings on the mount takes the container's user namespace mappings", () => {
    // Host root's files are container root's through the mount, and root's new files are host root's.
    const dir = hostDir("implied", { "root.txt": [0, 0], "u1000.txt": [1000, 1000] });
    const out = inside("stat -c %u:%g /mnt/root.txt /mnt/u1000.txt /srv/root.txt && echo x > /mnt/new", (c) => {
      userns(c);
      c.mounts.push(bind("/mnt", dir, ["bind", "idmap"]));
      c.mounts.push(bind("/srv", dir, ["bind"]));
    });
    expect(out.trim().split("\n")).toEqual(["0:0", "1000:1000", "65534:65534"]);
    expect(owner(join(dir, "new"))).toBe("0:0");
  });

  test("without a user namespace of its own the container's processes see the hostIDs (runc's [no userns] case)", () => {
    const dir = hostDir("nouserns", { "f.txt": [0, 0] });
    const out = inside("stat -c %u:%g /mnt/f.txt", (c) => {
      c.mounts.push(bind("/mnt", dir, ["bind"], { uidMappings: M(0, 100000, 65536), gidMappings: M(0, 100000, 65536) }));
    });
    expect(out.trim()).toBe("100000:100000");
  });

  describe("recursive: ridmap over a sub-mount", () => {
    let dir: string;
    beforeAll(() => {
      dir = hostDir("tree", { "top.txt": [1000, 1000] });
      mkdirSync(join(dir, "sub"));
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0777", "tsrun-idmap-sub", join(dir, "sub")]);
      writeFileSync(join(dir, "sub", "inner.txt"), "inner\n");
      chownSync(join(dir, "sub", "inner.txt"), 1000, 1000);
    });
    afterAll(() => execFileSync("umount", ["-l", join(dir, "sub")]));

    const script = "stat -c %u:%g /mnt/top.txt /mnt/sub/inner.txt";
    const withOpts = (opts: string[]) => (c: any) => {
      userns(c);
      c.mounts.push(bind("/mnt", dir, opts));
    };

    (TMPFS_IDMAP ? test : test.skip)("rbind + ridmap idmaps the sub-mount too; rbind + idmap only the top", () => {
      expect(inside(script, withOpts(["rbind", "ridmap"])).trim().split("\n")).toEqual(["1000:1000", "1000:1000"]);
      expect(inside(script, withOpts(["rbind", "idmap"])).trim().split("\n")).toEqual(["1000:1000", "65534:65534"]);
      // Written through the recursive one, the sub-mount's file belongs to host root (the container's root).
      inside("touch /mnt/sub/by-root", withOpts(["rbind", "ridmap"]));
      expect(owner(join(dir, "sub", "by-root"))).toBe("0:0");
    });

    test("bind (not rbind) of it in a user namespace: refused, the sub-mount is locked to the namespace (the error says rbind)", () => {
      const r = run(script, withOpts(["bind", "idmap"]));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/\(\/mnt\): idmapped bind of .*\/tree: open_tree \(clone\): Invalid argument \(mounts under it are locked to the container's user namespace: use rbind\)/);
    });

    if (!TMPFS_IDMAP) {
      test("Linux < 6.3: ridmap over a tmpfs sub-mount is refused, naming the mount and tmpfs", () => {
        console.log("not checked on this kernel: ridmap over an idmapped tmpfs sub-mount (tmpfs is idmappable since Linux 6.3)");
        const r = run(script, withOpts(["rbind", "ridmap"]));
        expect(r.status).not.toBe(0);
        expect(r.stderr).toMatch(/\(\/mnt\).*cannot be idmapped/);
      });
    }
  });

  test("a filesystem the kernel cannot idmap (sysfs) is refused at create, naming the mount, the source and the filesystem", () => {
    const r = run("true", (c) => {
      userns(c);
      // A directory with no mount under it: with one, a plain bind could not even be cloned (locked mounts).
      c.mounts.push(bind("/mnt", "/sys/class", ["bind"], { uidMappings: USERNS, gidMappings: USERNS }));
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/mounts\/\d+ \(\/mnt\): \/sys\/class \(sysfs\) cannot be idmapped: mount_setattr\(MOUNT_ATTR_IDMAP\): Invalid argument/);
    expect(s.tsrun(["list", "-q"]).stdout.trim()).toBe("");
  });

  test("an overlayfs source is refused the same way", () => {
    const ov = join(s.dir, "ov");
    for (const d of ["l", "u", "w", "m"]) mkdirSync(join(ov, d), { recursive: true });
    execFileSync("mount", ["-t", "overlay", "tsrun-idmap-ov", "-o", `lowerdir=${ov}/l,upperdir=${ov}/u,workdir=${ov}/w`, join(ov, "m")]);
    try {
      const r = run("ls /mnt", (c) => c.mounts.push(bind("/mnt", join(ov, "m"), ["bind", "ro"], { uidMappings: USERNS, gidMappings: USERNS })));
      if (r.status === 0) {
        console.log("this kernel idmaps overlayfs mounts: the refusal of an overlayfs source was not checked");
      } else {
        expect(r.stderr).toMatch(/\(\/mnt\): .*\/m \(overlayfs\) cannot be idmapped/);
      }
    } finally {
      execFileSync("umount", [join(ov, "m")]);
    }
  });
});

describe("tsrun.idmapLayers: the overlay root over idmapped lower layers", () => {
  /** The layered bundle's layers (host root's files) as the root of a container whose root is host 100000. */
  const layered = (upper: string, idmapLayers: boolean) => (c: any) => {
    userns(c);
    // The layered bundle's empty rootfs: the container's root must reach root.path (as under runc), and the
    // overlay on it exists in the container's mount namespace only.
    c.root = { path: join(LAYERED, "rootfs"), readonly: false };
    c.tsrun = { layers: [join(LAYERED, "layers/base"), join(LAYERED, "layers/app")], upperDir: upper, ...(idmapLayers ? { idmapLayers: true } : {}) };
    c.mounts = c.mounts.filter((m: any) => m.type !== "sysfs" && m.type !== "cgroup");
  };

  (LAYERS_IDMAP ? test : test.skip)("the container's root owns the layers' files; what it writes lands in the upper as its host id", () => {
    const upper = join(s.dir, "upper-idmapped");
    const out = inside("stat -c %u:%g /bin/busybox /etc/passwd / && echo x > /etc/hostname && touch /new && mkdir /newdir", layered(upper, true));
    expect(out.trim().split("\n")).toEqual(["0:0", "0:0", "0:0"]);
    // Copied up (/etc/hostname) and new files: the container's root, host 100000.
    for (const f of ["etc/hostname", "new", "newdir", "."]) expect(owner(join(upper, f))).toBe("100000:100000");
    // The layers themselves are untouched.
    expect(owner(join(LAYERED, "layers/base/etc/passwd"))).toBe("0:0");
  });

  test("without idmapLayers the same container is refused (host root, the upper's owner, is not mapped)", () => {
    const r = run("true", layered(join(s.dir, "upper-plain"), false));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\/tsrun\/layers: the overlay is mounted in the new user namespace, which must map the owner/);
  });

  if (!LAYERS_IDMAP) {
    test("Linux < 5.19: idmapLayers is refused by field", () => {
      console.log("not checked on this kernel: an overlay over idmapped layers (overlayfs takes them from Linux 5.19)");
      const r = run("true", layered(join(s.dir, "upper-old"), true));
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/\/tsrun\/idmapLayers: overlayfs takes idmapped layers from Linux 5.19/);
    });
  }
});

if (!HAVE_IDMAP) {
  test("Linux < 5.12: an idmapped mount is refused at create, naming the mount", () => {
    console.log("not checked on this kernel: idmapped mounts themselves (mount_setattr needs Linux 5.12)");
    const dir = hostDir("old", {});
    const r = run("true", (c) => c.mounts.push(bind("/mnt", dir, ["bind"], { uidMappings: USERNS, gidMappings: USERNS })));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/\(\/mnt\)/);
  });
}
