// tsrun.layers / tsrun.upperDir: the root as an overlay of read-only layers, observed from inside
// (what the process sees) and from outside (layers never change, upper dirs, nothing left behind).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Scratch, INIT, TOP, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";
import { launchInit } from "../../src/init/launch.js";
import { encodePlan } from "../../src/launch/encode.js";
import { Op } from "../../src/launch/ops.js";

const CLONE_NEWNS = 0x20000;
const MS_SLAVE_REC = 0x80000 | 0x4000;

const LAYERED = join(TOP, "bundles/layered");
const BASE = join(LAYERED, "layers/base");
const APP = join(LAYERED, "layers/app");

const s = new Scratch();
beforeAll(() => {
  ensureBuilt();
  if (!existsSync(join(BASE, "bin/busybox")) || !existsSync(join(APP, "app/hello.sh"))) {
    const r = spawnSync("bash", [join(TOP, "bundles/build-all.sh")], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("bundles/build-all.sh failed");
  }
});
afterAll(() => expect(s.cleanup()).toEqual([]));

/** A bundle with its own empty rootfs/ mount point and the layered example's layers (absolute). */
function layered(script: string, edit: (c: any) => void = () => {}, sc: Scratch = s): string {
  const b = sc.bundle((c) => {
    c.root = { path: "rootfs", readonly: false };
    c.tsrun = { layers: [BASE, APP] };
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
  mkdirSync(join(b, "rootfs"), { recursive: true });
  return b;
}

function run(bundle: string, name = "l"): string {
  const r = s.tsrun(["run", "--bundle", bundle, s.id(name)]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** sha256 over every entry of the trees: path, type, mode, owner, and content or link target. */
function hashTrees(dirs: string[]): string {
  const h = createHash("sha256");
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = lstatSync(p);
      h.update(`${rel}/${name}\0${st.mode}\0${st.uid}:${st.gid}\0${st.mtimeMs}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(p));
      else if (st.isFile()) h.update(readFileSync(p));
      else if (st.isDirectory()) walk(p, `${rel}/${name}`);
    }
  };
  for (const d of dirs) {
    h.update(`==${d}\0`);
    walk(d, "");
  }
  return h.digest("hex");
}

test("the layered example bundle runs and sees both layers, the app's /etc/motd over the base's", () => {
  const r = s.tsrun(["run", "--bundle", LAYERED, s.id("example")]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("Welcome to the tsrun layered example (app layer).");
  expect(r.stdout).not.toContain("(base layer)");
  expect(r.stdout).toContain("root mount: overlay");
  expect(readdirSync(join(LAYERED, "rootfs"))).toEqual([]); // the mount point stays empty on the host
});

test("the root is one overlay; busybox from the base, the app from the top; HOME from the layers' /etc/passwd", () => {
  const out = run(layered("awk '$2 == \"/\" { print $3 }' /proc/self/mounts; test -x /bin/busybox && echo busybox; cat /app/hello.sh | head -1; echo $HOME"));
  expect(out).toBe("overlay\nbusybox\n#!/bin/sh\n/root\n");
});

test("writes, deletions (whiteouts), renames and chmods inside never change a layer", () => {
  const before = hashTrees([BASE, APP]);
  const out = run(
    layered(
      [
        "echo new > /new-file",
        "echo changed > /etc/motd", // a file of the top layer
        "echo more >> /etc/passwd", // a file of the bottom layer (copy-up)
        "mv /app /app2", // rename of a directory of the top layer (leaves a whiteout at /app)
        "rm /etc/group", // whiteout over the bottom layer
        "rm -rf /root",
        "mv /etc/hostname /etc/hostname2", // rename of a lower file
        "chmod 700 /bin/busybox && chmod 600 /etc/hosts",
        "mkdir -p /var/lib/x && touch /var/lib/x/y",
        "ls /app /etc/group /root 2>&1 | wc -l; cat /etc/motd; ls /app2; test -f /etc/hostname2 && echo renamed",
      ].join(" && "),
    ),
  );
  expect(out).toBe("3\nchanged\nhello.sh\nrenamed\n");
  expect(hashTrees([BASE, APP])).toBe(before);
});

test("ten containers at once on the same layers: each sees only its own writes", () => {
  const before = hashTrees([BASE, APP]);
  const ids: string[] = [];
  const outs: string[] = [];
  // Each container waits for /sync/go, made once all ten run: they are alive together however slow
  // the machine is (checked below), with no timing assumed.
  const sync = join(s.dir, "par-sync");
  mkdirSync(sync);
  const bindSync = (c: any) => c.mounts.push({ destination: "/sync", type: "bind", source: sync, options: ["bind", "ro"] });
  for (let i = 0; i < 10; i++) {
    const id = s.id(`par${i}`);
    const b = layered(`echo ${i} > /own; touch /w${i}; until [ -e /sync/go ]; do sleep 0.05; done; ls / | grep '^w' | tr '\\n' ' '; cat /own`, bindSync);
    const r = s.tsrun(["run", "--detach", "--bundle", b, id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    ids.push(id);
    outs.push(r.outFile);
  }
  expect(ids.map((id) => s.state(id).status)).toEqual(Array(10).fill("running"));
  writeFileSync(join(sync, "go"), "");
  ids.forEach((id, i) => {
    waitFor(() => (s.state(id).status === "stopped" ? true : undefined), 15_000);
    expect(readFileSync(outs[i], "utf8")).toBe(`w${i} ${i}\n`);
    expect(s.tsrun(["delete", id]).status).toBe(0);
  });
  expect(hashTrees([BASE, APP])).toBe(before);
});

test("100 layers (more than a page of lowerdir= options): all are seen, the top one wins", () => {
  // Long paths on purpose: 100 of them do not fit in the one page mount(2) takes for options.
  const top = join(s.dir, "many-layers-whose-paths-together-exceed-the-one-page-limit-of-mount-options");
  const layers: string[] = [BASE];
  for (let i = 0; i < 100; i++) {
    const l = join(top, `layer-number-${String(i).padStart(3, "0")}`);
    mkdirSync(join(l, "layers"), { recursive: true });
    writeFileSync(join(l, "layers", `f${i}`), `${i}\n`);
    writeFileSync(join(l, "shared"), `${i}\n`);
    layers.push(l);
  }
  expect(layers.join(":").length).toBeGreaterThan(4096);
  const out = run(layered("ls /layers | wc -l; cat /shared /layers/f0 /layers/f99", (c) => (c.tsrun.layers = layers)));
  expect(out.split("\n").map((x) => x.trim())).toEqual(["100", "99", "0", "99", ""]);
});

describe("errors leave nothing behind", () => {
  const e = new Scratch();
  afterAll(() => expect(e.cleanup()).toEqual([]));

  test.each([
    ["a missing layer", (c: any, b: string) => (c.tsrun.layers = [BASE, join(b, "nope")]), /nope: layer \/tsrun\/layers\/1 does not exist/],
    ["a layer that is a file", (c: any) => (c.tsrun.layers = [join(BASE, "etc/passwd")]), /passwd: layer \/tsrun\/layers\/0 is not a directory/],
    ["layers but no root.path directory", (c: any) => (c.root.path = "no-such-rootfs"), /no-such-rootfs: root filesystem directory \(root\.path\) does not exist/],
    ["layers with a new user namespace that does not map host root", (c: any) => {
      c.linux.namespaces.push({ type: "user" });
      c.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      c.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    }, /config\.json \/tsrun\/layers: the overlay is mounted in the new user namespace, which must map the owner of its upper and work dirs: .*\/upper will be made by tsrun's caller, uid 0 gid 0, and host uid 0 is not mapped in \/linux\/uidMappings$/m],
    ["an upperDir without layers", (c: any) => (c.tsrun = { upperDir: "upper" }), /config\.json \/tsrun\/upperDir: an upper dir needs tsrun\.layers/],
  ])("%s", (_name, edit, message) => {
    const b = layered("true", (c) => edit(c, e.dir), e);
    const id = e.id("err");
    const r = e.tsrun(["run", "--bundle", b, id]);
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(1);
    expect(existsSync(join(b, "upper"))).toBe(false);
    expect(leftovers(e.root, [id])).toEqual([]);
  });

  test("a kernel refusal is reported with the dirs; a persistent upper made by the failed create is removed", () => {
    // The upper dir inside a lower layer: overlayfs refuses the overlap (ELOOP) when it creates the fs.
    const lower = join(e.dir, "lower-with-upper");
    mkdirSync(join(lower, "bin"), { recursive: true });
    const b = layered("true", (c) => {
      c.tsrun.layers = [BASE, lower];
      c.tsrun.upperDir = lower;
    }, e);
    const id = e.id("kernel");
    const r = e.tsrun(["run", "--bundle", b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/overlay on .*rootfs: create .*upperdir .*lower-with-upper.*: Too many levels of symbolic links/);
    expect(existsSync(`${lower}.work`)).toBe(false);
    expect(leftovers(e.root, [id])).toEqual([]);
  });

  test("the kernel's own error text from the fs context is in the message", async () => {
    // Straight to tsrun-init (the planner refuses a layer that is a file before this point; a swap
    // between planning and mounting would reach the kernel like this).
    const plan = [
      { op: Op.CLONE, ints: [CLONE_NEWNS, 1], strs: [""] },
      { op: Op.MOUNT, ints: [MS_SLAVE_REC, 0], strs: ["", "/", "", "", ""] },
      { op: Op.OVERLAY, ints: [0, 0], strs: [e.dir, join(e.dir, "u"), join(e.dir, "w"), join(BASE, "etc/passwd")] },
    ];
    await expect(launchInit({ initPath: INIT, plan: encodePlan(plan), preserveFds: 0, foreground: true, onSync: () => {} })).rejects.toThrow(
      /overlay on .*: lowerdir\+ .*\/etc\/passwd: Invalid argument \(kernel: overlay: .*\/etc\/passwd is not a directory\)/,
    );
  });
});

test("the per-container upper holds the writes and whiteouts, and is removed on delete", () => {
  const id = s.id("upper");
  const b = layered("echo data > /data; rm /etc/motd");
  expect(s.tsrun(["create", "--bundle", b, id]).status).toBe(0);
  const upper = join(s.root, id, "upper");
  expect(existsSync(upper) && existsSync(join(s.root, id, "work"))).toBe(true);
  expect(s.tsrun(["start", id]).status).toBe(0);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  expect(readFileSync(join(upper, "data"), "utf8")).toBe("data\n");
  const wh = lstatSync(join(upper, "etc/motd"));
  expect(wh.isCharacterDevice() && wh.rdev === 0).toBe(true); // overlayfs whiteout
  expect(s.tsrun(["delete", id]).status).toBe(0);
  expect(existsSync(join(s.root, id))).toBe(false);
});

test("a persistent upperDir survives delete with the writes, and the next container sees them", () => {
  const persist = join(s.dir, "persist", "upper");
  const b = layered("cat /counter 2>/dev/null; echo x >> /counter", (c) => (c.tsrun.upperDir = persist));
  expect(run(b)).toBe("");
  expect(readFileSync(join(persist, "counter"), "utf8")).toBe("x\n");
  expect(existsSync(`${persist}.work`)).toBe(true);
  expect(run(b)).toBe("x\n");
  expect(readFileSync(join(persist, "counter"), "utf8")).toBe("x\nx\n");
});

test("root.readonly makes the whole overlay root read-only", () => {
  const before = hashTrees([BASE, APP]);
  const out = run(layered("touch /x 2>&1; echo $?; awk '$5 == \"/\" { print $6 }' /proc/self/mountinfo", (c) => (c.root.readonly = true)));
  expect(out).toMatch(/Read-only file system\n1\nro[,\n]/);
  expect(hashTrees([BASE, APP])).toBe(before);
});

test("layers in a new user namespace that maps host root: deletes, renames and writes work (userxattr)", () => {
  const b = layered("rm -r /etc && mkdir /etc && echo new > /etc/x && mv /app /app2 && rm /bin/ls; ls /etc; test -e /app || echo app-gone; test -e /bin/ls || echo ls-gone; awk '$2 == \"/\" {print $4}' /proc/self/mounts | tr , '\\n' | grep userxattr", (c) => {
    c.linux.namespaces.push({ type: "user" });
    c.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    c.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
  });
  expect(run(b, "userns").split("\n")).toEqual(["x", "app-gone", "ls-gone", "userxattr", ""]);
  // The layers themselves are untouched.
  expect(existsSync(join(BASE, "etc/passwd")) && existsSync(join(BASE, "bin/ls"))).toBe(true);
});
