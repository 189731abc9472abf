// The classic hand-made containers (issue 10; the busybox shell container, which has a cgroup v2
// part, is in cgroup-classic-shell.test.ts so that it also runs in the cgroup-v2 VM), run from their bundles in bundles/ and checked from
// inside and outside, as their shell versions are. SAFETY: every network here lives in network
// namespaces made by the test (tsrun is started through nsenter --net), and they go in afterAll.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BUNDLES, copyBundle, hold } from "../helpers/bundles.js";
import { IP, NSENTER, ip, sh } from "../helpers/host.js";
import { ROOTFS, Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const BUSYBOX = join(ROOTFS, "bin/busybox");
const s = new Scratch();
const netnses: string[] = [];

beforeAll(() => ensureBuilt());
afterAll(() => {
  const leaks = s.cleanup();
  for (const ns of netnses) spawnSync(IP, ["netns", "del", ns]);
  expect(leaks).toEqual([]);
});

function netns(name: string): string {
  const ns = `tsrun-t${process.pid}-${name}`;
  ip("netns", "add", ns);
  netnses.push(ns);
  ip("-n", ns, "link", "set", "lo", "up");
  return ns;
}


/** bin/tsrun, optionally inside a network namespace (the bridge/veths it makes stay there). */
function tsrun(args: string[], ns?: string) {
  if (!ns) return s.tsrun(args);
  const r = spawnSync(NSENTER, [`--net=/run/netns/${ns}`, "--", TSRUN, "--root", s.root, ...args], { encoding: "utf8", timeout: 30_000, stdio: ["ignore", "pipe", "pipe"], env: {} });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

describe("1. the teaching script: a web server with hostname, MB/percent limits, overlay and a bridge address", () => {
  test("serves a page at its address; limits are set; what it wrote is not in the image directory", () => {
    const ns = netns("teach");
    const id = s.id("teach");
    const bundle = copyBundle(s, "teaching-web");
    // Detached: the create's stdout is the container's, so it goes to a file.
    const out = join(s.dir, `${id}.out`);
    const r = spawnSync("sh", ["-c", `exec ${NSENTER} --net=/run/netns/${ns} -- ${TSRUN} --root ${s.root} run -d --bundle ${bundle} ${id} >${out} 2>&1`], { timeout: 30_000 });
    expect(r.status).toBe(0);
    const page = waitFor(() => {
      const w = sh(NSENTER, [`--net=/run/netns/${ns}`, "--", BUSYBOX, "wget", "-q", "-O", "-", "http://10.78.0.2/"]); // (busybox 1.35 wget -T segfaults)
      return w.status === 0 ? w.stdout : undefined;
    });
    expect(page).toBe("<h1>Hello from teaching-web</h1>\n");
    const said = readFileSync(out, "utf8");
    expect(said).toContain("memory limit: 64 MB");
    expect(said).toContain("cpu limit:    50 %");
    expect(said).toMatch(/address: +10\.78\.0\.2\/24/);
    // Seen from the host: the cgroup limits and the bridge in the test's namespace.
    expect(readFileSync(`/sys/fs/cgroup/memory/tsrun/${id}/memory.limit_in_bytes`, "utf8").trim()).toBe(String(64 * 1024 * 1024));
    expect(readFileSync(`/sys/fs/cgroup/cpu/tsrun/${id}/cpu.cfs_quota_us`, "utf8").trim()).toBe("50000");
    expect(ip("-n", ns, "-4", "-o", "addr", "show", "tsteach0")).toContain("10.78.0.1/24");
    // The page lives in the overlay's upper layer only.
    expect(existsSync(join(ROOTFS, "www"))).toBe(false);
    expect(tsrun(["kill", id, "TERM"], ns).status).toBe(0);
    waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
    expect(readFileSync(out, "utf8")).toContain("stopped");
    expect(tsrun(["delete", id], ns).status).toBe(0);
  });
});

describe("3. a container inside a container", () => {
  test("the inner container: three PIDs in NStgid, nested user namespaces, a nested cgroup", () => {
    const id = s.id("outer");
    const out = join(s.dir, `${id}.out`);
    const b = copyBundle(s, "nested", (c) => hold(c, 30));
    expect(spawnSync("sh", ["-c", `exec ${TSRUN} --root ${s.root} run -d --bundle ${b} ${id} >${out} 2>&1`]).status).toBe(0);
    const said = waitFor(() => (readFileSync(out, "utf8").includes("inner init's cgroup") ? readFileSync(out, "utf8") : undefined), 20_000);
    expect(said).toContain("inner: pid 1, uid=0(root)");
    expect(said).toMatch(/outer: the inner init is pid \d+ here; NStgid:\t\d+\t1\n/);
    expect(said).toContain("outer: the inner init's cgroup, seen from here: /tsrun/inner");
    // From the host: the inner process is in a cgroup under the outer's, with a pid in each of the
    // three PID namespaces, and in a user namespace of its own under the outer's.
    const outerPid = s.state(id).pid as number;
    const inner = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).find((p) => {
      try {
        return readFileSync(`/proc/${p}/cgroup`, "utf8").includes(`memory:/tsrun/${id}/tsrun/inner\n`) && readFileSync(`/proc/${p}/cmdline`, "utf8").startsWith("sleep");
      } catch {
        return false;
      }
    });
    expect(inner).toBeDefined();
    const nstgid = /^NStgid:\s+(.*)$/m.exec(readFileSync(`/proc/${inner}/status`, "utf8"))![1].trim().split(/\s+/);
    expect(nstgid).toHaveLength(3);
    expect(nstgid[0]).toBe(inner);
    expect(nstgid[2]).toBe("1");
    const userns = (p: number | string) => sh("readlink", [`/proc/${p}/ns/user`]).stdout.trim();
    expect(new Set([userns("self"), userns(outerPid), userns(inner!)]).size).toBe(3);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });
});

describe("4. the minimal clone demo: one namespace flag per bundle", () => {
  const run = (name: string, edit?: (c: any) => void) => {
    const r = s.tsrun(["run", "--bundle", edit ? copyBundle(s, `clone/${name}`, edit) : join(BUNDLES, "clone", name), s.id(name)]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return r.stdout;
  };

  test("UTS: a hostname of its own; the host's is unchanged", () => {
    const host = sh("hostname", []).stdout.trim();
    expect(run("uts")).toContain("hostname here is 'clone-uts'");
    expect(sh("hostname", []).stdout.trim()).toBe(host);
  });

  test("PID: the shell is PID 1 and ps lists only the container", () => {
    const out = run("pid");
    expect(out).toContain("this shell is PID 1;");
    const pids = out.split("\n").filter((l) => /^\s*\d+ /.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(pids).toEqual([1, 2]);
  });

  test("NET: only lo", () => {
    expect(run("net")).toContain("network namespace: interfaces lo\n");
  });

  test("NS: a private tmpfs the host cannot see", () => {
    const id = s.id("mnt");
    const out = join(s.dir, `${id}.out`);
    const b = copyBundle(s, "clone/mnt", (c) => hold(c, 20));
    expect(spawnSync("sh", ["-c", `exec ${TSRUN} --root ${s.root} run -d --bundle ${b} ${id} >${out} 2>&1`]).status).toBe(0);
    const said = waitFor(() => (readFileSync(out, "utf8").includes("tsrun-demo-private") ? readFileSync(out, "utf8") : undefined));
    expect(said).toContain("holding private-file");
    const pid = s.state(id).pid;
    expect(readFileSync(`/proc/${pid}/mountinfo`, "utf8")).toContain("tsrun-demo-private");
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain("tsrun-demo-private");
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });

  test("USER: uid 0 inside is uid 100000 outside", () => {
    const id = s.id("user");
    const out = join(s.dir, `${id}.out`);
    const b = copyBundle(s, "clone/user", (c) => hold(c, 20));
    expect(spawnSync("sh", ["-c", `exec ${TSRUN} --root ${s.root} run -d --bundle ${b} ${id} >${out} 2>&1`]).status).toBe(0);
    const said = waitFor(() => (readFileSync(out, "utf8").includes("outside") ? readFileSync(out, "utf8") : undefined));
    expect(said).toContain("inside, uid=0(root) gid=0(root)");
    expect(said).toContain("uid 0-65535 inside is uid 100000-165535 outside");
    const status = readFileSync(`/proc/${s.state(id).pid}/status`, "utf8");
    expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)!.slice(1)).toEqual(["100000", "100000"]);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });

  test("IPC: a message queue the host's IPC namespace does not have", () => {
    expect(run("ipc")).toContain("POSIX message queues here: tsrun-demo-queue;");
    // The host's own queues, seen through a private mount of its mqueue filesystem.
    const host = sh("unshare", ["-m", "sh", "-c", "mount -t mqueue mq /mnt && ls /mnt"]);
    expect(host.status).toBe(0);
    expect(host.stdout).not.toContain("tsrun-demo-queue");
  });
});

describe("5. two namespaces joined by a veth pair, and the cgroup freezer", () => {
  test("the two containers ping each other over the veth pair", () => {
    const a = netns("va");
    const b = netns("vb");
    const va = `tsva${process.pid % 100000}`;
    const vb = `tsvb${process.pid % 100000}`;
    ip("link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b);
    ip("-n", a, "addr", "add", "10.79.0.1/24", "dev", va);
    ip("-n", b, "addr", "add", "10.79.0.2/24", "dev", vb);
    ip("-n", a, "link", "set", va, "up");
    ip("-n", b, "link", "set", vb, "up");
    for (const [side, ns, peer] of [["a", a, "10.79.0.2"], ["b", b, "10.79.0.1"]]) {
      const bundle = copyBundle(s, `veth-pair/${side}`, (c) => {
        c.linux.namespaces.find((n: any) => n.type === "network").path = `/run/netns/${ns}`;
      });
      const r = s.tsrun(["run", "--bundle", bundle, s.id(`veth-${side}`)]);
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`pinging the other namespace at ${peer}:`);
      expect(r.stdout).toMatch(/ 0% packet loss/);
    }
  });

  test("pause freezes a busy container (its CPU time stops growing) and resume thaws it", () => {
    const id = s.id("freezer");
    const out = join(s.dir, `${id}.out`);
    expect(spawnSync("sh", ["-c", `exec ${TSRUN} --root ${s.root} run -d --bundle ${join(BUNDLES, "freezer")} ${id} >${out} 2>&1`]).status).toBe(0);
    const usage = () => Number(readFileSync(`/sys/fs/cgroup/cpuacct/tsrun/${id}/cpuacct.usage`, "utf8"));
    const grows = () => {
      const a = usage();
      spawnSync("sleep", ["0.3"]);
      return usage() - a;
    };
    expect(grows()).toBeGreaterThan(50e6); // a busy loop: well over 50 ms of CPU in 300 ms
    expect(s.tsrun(["pause", id]).status).toBe(0);
    expect(s.state(id).status).toBe("paused");
    expect(grows()).toBe(0);
    expect(s.tsrun(["resume", id]).status).toBe(0);
    expect(grows()).toBeGreaterThan(50e6);
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
    expect(readdirSync(s.root)).not.toContain(id);
  });
});
