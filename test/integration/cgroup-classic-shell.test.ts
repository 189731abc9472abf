// The hand-made busybox shell container (issue 10, item 2) from bundles/busybox-shell: an overlay of
// the busybox layer, every namespace including user and cgroup, /proc, /sys, cgroup2 and mqueue
// inside, device nodes bound from the host, a CPU limit of 50% (cpu.max on cgroup v2), and a veth
// into its network namespace with an nc server. Runs on the host and in the cgroup-v2 VM.
// SAFETY: the veth's host end lives in a network namespace made by the test.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { copyBundle, hold } from "../helpers/bundles.js";
import { IP, NSENTER, ip, sh } from "../helpers/host.js";
import { ROOTFS, Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const BUSYBOX = join(ROOTFS, "bin/busybox");
const V2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
const s = new Scratch();
const NS = `tsrun-t${process.pid}-shell`;

beforeAll(() => {
  ensureBuilt();
  ip("netns", "add", NS);
  ip("-n", NS, "link", "set", "lo", "up");
});
afterAll(() => {
  const leaks = s.cleanup();
  spawnSync(IP, ["netns", "del", NS]);
  expect(leaks).toEqual([]);
});

describe("2. the busybox shell container: overlay, every namespace, devices, cgroup, a veth with an nc server", () => {
  test("PID 1, uid 0 inside and the creator outside, cgroup /, mounts, devices, reachable server", () => {
    const ns = NS;
    const id = s.id("shell");
    const bundle = copyBundle(s, "busybox-shell", (c) => hold(c));
    const out = join(s.dir, `${id}.out`);
    const c = spawnSync("sh", ["-c", `exec ${TSRUN} --root ${s.root} create --bundle ${bundle} ${id} >${out} 2>&1`], { timeout: 30_000 });
    expect({ status: c.status, output: readFileSync(out, "utf8") }).toMatchObject({ status: 0 });
    const pid = s.state(id).pid as number;
    // The README's set-up: a veth from the test's namespace into the container's, between create and start.
    const hostEnd = `tsbs${process.pid % 100000}`;
    ip("-n", ns, "link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", String(pid));
    ip("-n", ns, "addr", "add", "10.80.0.1/24", "dev", hostEnd);
    ip("-n", ns, "link", "set", hostEnd, "up");
    expect(s.tsrun(["start", id]).status).toBe(0);
    const said = waitFor(() => {
      const t = readFileSync(out, "utf8");
      return t.includes("network:") ? t : undefined;
    });
    expect(said).toContain("shell pid:   1 ");
    expect(said).toContain("identity:    uid=0(root) gid=0(root)");
    // Every cgroup line ends in ":/": a cgroup namespace rooted at the container's cgroup.
    const cgroups = /^cgroup: +(.*)\(a cgroup/m.exec(said)![1].trim().split(/\s+/);
    expect(cgroups.length).toBeGreaterThan(0);
    for (const l of cgroups) expect(l).toMatch(/:\/$/);
    for (const m of ["/=overlay", "/proc=proc", "/sys=sysfs", "/sys/fs/cgroup=cgroup2", "/dev/mqueue=mqueue"]) expect(said).toContain(m);
    expect(said).toMatch(/devices: .*\bnull\b.*\bzero\b/);
    // Outside: the creator's uid (root here), the container's own user namespace, the nc server.
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(String(process.getuid!()));
    expect(sh("readlink", [`/proc/${pid}/ns/user`]).stdout).not.toBe(sh("readlink", ["/proc/self/ns/user"]).stdout);
    // Device nodes are bound from the host (mknod is not allowed in a user namespace).
    const mi = readFileSync(`/proc/${pid}/mountinfo`, "utf8");
    expect(mi).toMatch(/ \/dev\/null rw,/);
    if (V2) {
      expect(readFileSync(`/sys/fs/cgroup/tsrun/${id}/cpu.max`, "utf8").trim()).toBe("50000 100000");
      expect(said).toContain("cpu limit:   50000 100000");
    } else {
      expect(readFileSync(`/sys/fs/cgroup/cpu/tsrun/${id}/cpu.cfs_quota_us`, "utf8").trim()).toBe("50000");
    }
    const hello = waitFor(() => {
      const r = sh(NSENTER, [`--net=/run/netns/${ns}`, "--", BUSYBOX, "nc", "-w", "1", "10.80.0.2", "7000"]);
      return r.stdout.includes("hello") ? r.stdout : undefined;
    });
    expect(hello).toBe("hello from the busybox shell container\n");
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });
});

