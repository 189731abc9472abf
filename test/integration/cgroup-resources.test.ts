// linux.resources and `update`, shown by their effect on real containers. Runs on every cgroup
// layout: the host's is probed and each test asserts what that layout must do (the hybrid/legacy
// host applies v1 controllers, a unified host v2). The v2 VM runner picks this file up by its name.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hostHierarchies, layoutOf } from "../../src/cgroups/hierarchy.js";
import { Scratch, ensureBuilt, waitFor } from "../helpers/tsrun.js";
import { EXAMPLES } from "../helpers/examples.js";

const hs = hostHierarchies();
const V2 = layoutOf(hs) === "unified";
const v2mount = hs.find((h) => h.version === 2)?.mountPoint ?? "/sys/fs/cgroup";
/** The container's cgroup dir holding `controller` on this host. */
function cgDir(controller: string, id: string): string {
  if (V2) return join(v2mount, "tsrun", id);
  const h = hs.find((x) => x.version === 1 && x.controllers.split(",").includes(controller));
  if (!h) throw new Error(`no v1 ${controller} hierarchy on this host`);
  return join(h.mountPoint, "tsrun", id);
}
const read = (controller: string, id: string, file: string) => readFileSync(join(cgDir(controller, id), file), "utf8").trim();
/** memory+swap can be limited on v2 always, on v1 only with swap accounting (memory.memsw.*). */
const SWAP_ACCOUNTING = V2 || existsSync(join(cgDir("memory", ".."), "memory.memsw.limit_in_bytes"));
const MiB = 1 << 20;
/** A memory limit with swap held to it where the host can (no swapping out of the OOM kill). */
const memLimit = (bytes: number) => (SWAP_ACCOUNTING ? { limit: bytes, swap: bytes } : { limit: bytes });

let s: Scratch;
beforeAll(() => {
  ensureBuilt();
  s = new Scratch();
});
afterAll(() => {
  expect(s.cleanup()).toEqual([]);
});

const sh = (script: string) => ["/bin/sh", "-c", script];

test("a memory hog above memory.limit is OOM-killed: run exits 137", () => {
  const id = s.id("oom");
  const bundle = s.bundle((c) => {
    c.process.args = ["/bin/tail", "/dev/zero"];
    c.linux.resources = { ...c.linux.resources, memory: memLimit(32 * MiB) };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(137);
});

test("a fork bomb stops at pids.limit", () => {
  const id = s.id("pids");
  const bundle = s.bundle((c) => {
    // Start sleepers until fork fails (the shell then exits with "can't fork"), or 60 did not fail:
    // the limit did not hold. Each success is counted with a builtin, which needs no fork.
    c.process.args = sh('i=0; while [ $i -lt 60 ]; do sleep 10 & i=$((i+1)); echo "started=$i"; done');
    c.linux.resources = { ...c.linux.resources, pids: { limit: 10 } };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  const started = Number([...r.stdout.matchAll(/started=(\d+)/g)].at(-1)?.[1]);
  // The shell itself is one of the 10 tasks.
  expect(started).toBeGreaterThan(0);
  expect(started).toBeLessThanOrEqual(9);
  expect(r.stderr).toMatch(/fork|Resource temporarily unavailable|can't/i);
});

test("pids.limit 0 is a limit of zero tasks (runtime-spec 1.3): pids.max 0, the process cannot fork", () => {
  const id = s.id("pids0");
  const bundle = s.bundle((c) => {
    // A background job always needs a fork: refused under pids.max 0 (the shell gives up there).
    c.process.args = sh("echo before; sleep 1 & echo after");
    c.linux.resources = { ...c.linux.resources, pids: { limit: 0 } };
  });
  const created = s.tsrun(["create", "--bundle", bundle, id]);
  expect(created.stderr).toBe("");
  expect(created.status).toBe(0);
  // Before 1.3 (and in runc 1.1.5, crun) 0 meant "max": this is the difference the spec made.
  expect(read("pids", id, "pids.max")).toBe("0");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);

  const r = s.tsrun(["run", "--bundle", bundle, s.id("pids0run")]);
  expect(r.stdout).toBe("before\n");
  expect(r.stderr).toMatch(/fork|Resource temporarily unavailable|can't/i);
});

/** CPU time the cgroup has used, in seconds (v1 cpuacct.usage ns, v2 cpu.stat usage_usec). */
function cpuSeconds(id: string): number {
  if (V2) return Number(/usage_usec (\d+)/.exec(read("cpu", id, "cpu.stat"))![1]) / 1e6;
  return Number(read("cpuacct", id, "cpuacct.usage")) / 1e9;
}

test("a CPU quota holds a busy loop near its share (20% of one CPU)", () => {
  const id = s.id("quota");
  const bundle = s.bundle((c) => {
    c.process.args = sh("while :; do :; done");
    c.linux.resources = { ...c.linux.resources, cpu: { quota: 20000, period: 100000 } };
  });
  expect(s.tsrun(["run", "--detach", "--bundle", bundle, id]).status).toBe(0);
  expect(read("cpu", id, V2 ? "cpu.max" : "cpu.cfs_quota_us")).toBe(V2 ? "20000 100000" : "20000");
  const c0 = cpuSeconds(id);
  const t0 = performance.now();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1200);
  const share = (cpuSeconds(id) - c0) / ((performance.now() - t0) / 1000);
  s.tsrun(["delete", "--force", id]);
  // Generous bounds: unthrottled it would be ~1.0; throttled ~0.2.
  expect(share).toBeGreaterThan(0.05);
  expect(share).toBeLessThan(0.45);
});

test("cpuset.cpus restricts the container to CPU 0", () => {
  const id = s.id("cpuset");
  const bundle = s.bundle((c) => {
    c.process.args = ["/bin/grep", "Cpus_allowed_list", "/proc/self/status"];
    c.linux.resources = { ...c.linux.resources, cpu: { cpus: "0" } };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toMatch(/^Cpus_allowed_list:\s+0\n$/);
});

test("podman's and containerd's example resources apply on this host", () => {
  for (const name of ["podman-config.json", "containerd-config.json"]) {
    const example = JSON.parse(readFileSync(join(EXAMPLES, name), "utf8"));
    const res = example.linux.resources;
    const id = s.id("mgr");
    const bundle = s.bundle((c) => {
      c.process.args = ["/bin/sleep", "30"];
      c.linux.resources = res;
    });
    const r = s.tsrun(["run", "--detach", "--bundle", bundle, id]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    if (V2) {
      expect(read("memory", id, "memory.max")).toBe(String(res.memory.limit));
      expect(read("cpu", id, "cpu.max")).toBe(`${res.cpu.quota} ${res.cpu.period}`);
    } else {
      expect(read("memory", id, "memory.limit_in_bytes")).toBe(String(res.memory.limit));
      if (res.memory.swap) expect(read("memory", id, "memory.memsw.limit_in_bytes")).toBe(String(res.memory.swap));
      expect(read("cpu", id, "cpu.cfs_quota_us")).toBe(String(res.cpu.quota));
      if (res.cpu.shares) expect(read("cpu", id, "cpu.shares")).toBe(String(res.cpu.shares));
    }
    if (res.pids) expect(read("pids", id, "pids.max")).toBe(String(res.pids.limit));
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  }
});

test("update --memory lowers the limit of a running container, and a later allocation is OOM-killed", () => {
  // The container waits, then allocates a 24 MiB buffer and reports dd's status. Control: without the
  // update the 64 MiB limit lets it through; with the update to 16 MiB it is killed (137).
  // The container allocates only once the test has made /go/now (after the update): no race with a slow host.
  const script = "while [ ! -e /go/now ]; do sleep 0.05; done; dd if=/dev/zero of=/dev/null bs=24M count=1 2>/dev/null; echo dd=$?; sleep 30";
  const results: string[] = [];
  for (const doUpdate of [false, true]) {
    const id = s.id(doUpdate ? "upd" : "noupd");
    const bundle = s.bundle((c) => {
      c.process.args = sh(script);
      c.linux.resources = { ...c.linux.resources, memory: memLimit(64 * MiB) };
      c.mounts.push({ destination: "/go", type: "tmpfs", source: "tmpfs", options: ["size=64k"] });
    });
    const r = s.tsrun(["run", "--detach", "--bundle", bundle, id]);
    expect(r.status).toBe(0);
    const pid = s.state(id).pid;
    if (doUpdate) {
      const args = ["update", "--memory", "16m", ...(SWAP_ACCOUNTING ? ["--memory-swap", "16m"] : []), id];
      const u = s.tsrun(args);
      expect(u.stderr).toBe("");
      expect(u.status).toBe(0);
      expect(read("memory", id, V2 ? "memory.max" : "memory.limit_in_bytes")).toBe(String(16 * MiB));
    }
    writeFileSync(`/proc/${pid}/root/go/now`, "");
    results.push(waitFor(() => /dd=(\d+)/.exec(readFileSync(r.outFile, "utf8"))?.[1], 60_000));
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  }
  expect(results).toEqual(["0", "137"]);
});

test("update --resources - takes podman's update document from stdin, cumulatively", () => {
  const doc = readFileSync(join(EXAMPLES, "podman-update-resources.json"), "utf8");
  const id = s.id("updres");
  const bundle = s.bundle((c) => {
    c.process.args = ["/bin/sleep", "30"];
    c.linux.resources = { ...c.linux.resources, memory: { limit: 64 * MiB, swap: 128 * MiB }, pids: { limit: 20 } };
  });
  expect(s.tsrun(["run", "--detach", "--bundle", bundle, id]).status).toBe(0);
  const u = s.tsrun(["update", "--resources", "-", id], { stdin: doc });
  expect(u.stderr).toBe("");
  expect(u.status).toBe(0);
  if (V2) {
    expect(read("memory", id, "memory.max")).toBe("134217728");
    expect(read("memory", id, "memory.swap.max")).toBe("134217728"); // 256 MiB memory+swap - 128 MiB
    expect(read("cpu", id, "cpu.max")).toBe("150000 100000");
  } else {
    expect(read("memory", id, "memory.limit_in_bytes")).toBe("134217728");
    expect(read("memory", id, "memory.memsw.limit_in_bytes")).toBe("268435456");
    expect(read("cpu", id, "cpu.cfs_quota_us")).toBe("150000");
    expect(read("cpu", id, "cpu.cfs_period_us")).toBe("100000");
  }
  // Cumulative: a flag-only update keeps what the document set.
  expect(s.tsrun(["update", "--pids-limit", "7", id]).status).toBe(0);
  expect(read("pids", id, "pids.max")).toBe("7");
  expect(read("cpu", id, V2 ? "cpu.max" : "cpu.cfs_quota_us")).toBe(V2 ? "150000 100000" : "150000");
  expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
});

test("an impossible cpuset fails create naming the field, and leaves nothing", () => {
  const id = s.id("badcpus");
  const bundle = s.bundle((c) => {
    c.linux.resources = { ...c.linux.resources, cpu: { cpus: "99" } };
  });
  const r = s.tsrun(["create", "--bundle", bundle, id]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/\/linux\/resources\/cpu\/cpus: cannot write cpuset\.cpus=99: /);
  expect(s.tsrun(["state", id]).stderr).toMatch(/does not exist/);
  for (const c of ["cpuset", "memory", "pids"]) expect(existsSync(cgDir(c, id))).toBe(false);
});

test("unified keys: applied on cgroup v2, refused on v1 naming /linux/resources/unified", () => {
  const id = s.id("unified");
  const bundle = s.bundle((c) => {
    c.process.args = ["/bin/cat", "/sys/fs/cgroup/pids.max"];
    c.linux.resources = { ...c.linux.resources, unified: { "pids.max": "9" } };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  if (V2) {
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("9");
  } else {
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/linux\/resources\/unified: invalid configuration: cannot use unified on cgroup v1/);
  }
});

test("a refused update names the field and changes nothing; a stopped container is not running", () => {
  const id = s.id("updfail");
  const bundle = s.bundle((c) => {
    // 20 MiB of tmpfs pages: they cannot be reclaimed without swap.
    c.process.args = sh("dd if=/dev/zero of=/dev/shm/f bs=1M count=20 2>/dev/null; echo filled; sleep 30");
    c.linux.resources = { ...c.linux.resources, memory: memLimit(64 * MiB), cpu: { cpus: "0" } };
  });
  const r = s.tsrun(["run", "--detach", "--bundle", bundle, id]);
  expect(r.status).toBe(0);
  waitFor(() => (readFileSync(r.outFile, "utf8").includes("filled") ? true : undefined));
  const limitFile = V2 ? "memory.max" : "memory.limit_in_bytes";

  // An impossible cpuset, on every layout: refused, and the earlier writes of this update put back.
  const bad = s.tsrun(["update", "--cpuset-cpus", "99", "--pids-limit", "5", id]);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toMatch(/\/linux\/resources\/cpu\/cpus: cannot write cpuset\.cpus=99/);
  expect(read("cpuset", id, "cpuset.cpus")).toBe("0");

  if (!V2) {
    // v1 only: the kernel refuses a memory limit below what it cannot reclaim (EBUSY).
    const below = s.tsrun(["update", "--memory", "4m", id]);
    expect(below.status).toBe(1);
    expect(below.stderr).toMatch(/\/linux\/resources\/memory\/limit: cannot write memory\.limit_in_bytes=4194304: Device or resource busy/);
    expect(read("memory", id, limitFile)).toBe(String(64 * MiB));
    expect(s.state(id).status).toBe("running");
  } else {
    // v2 twin: memory.max below usage is accepted and the kernel OOM-kills inside the container.
    const below = s.tsrun(["update", "--memory", "4m", "--memory-swap", "4m", id]);
    expect(below.status).toBe(0);
    expect(read("memory", id, limitFile)).toBe(String(4 * MiB));
    waitFor(() => (s.state(id).status === "stopped" ? true : undefined), 10_000);
  }
  // Once stopped, update refuses with the phrase managers match.
  s.tsrun(["kill", id, "KILL"]);
  waitFor(() => (s.state(id).status === "stopped" ? true : undefined));
  const stopped = s.tsrun(["update", "--memory", "32m", id]);
  expect(stopped.status).toBe(1);
  expect(stopped.stderr).toMatch(/container not running/);
  expect(s.tsrun(["delete", id]).status).toBe(0);
});
