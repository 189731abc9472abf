// linux.resources.devices for real: the container's opens and mknods are judged by the v1 devices
// cgroup (this host) or by the eBPF program on cgroup v2 (run in the v2 VM: test/v2vm/cgroup-tests.sh).
// Device under test: /dev/kmsg (c 1:11), which is not among runc's default devices; the container
// makes its own node with mknod (allowed for any device by the defaults) and opens it write-only
// (the open is what the device cgroup judges; a write-only open of kmsg needs no capability).
// How the rules are built from the config, and that `update` applies them again without a window, is
// compared with runc 1.1.5.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeContext } from "../../src/lifecycle/context.js";
import { updateContainer } from "../../src/lifecycle/update.js";
import { waitFor } from "../helpers/tsrun.js";
import { EXAMPLES } from "../helpers/examples.js";
import { LAYOUT, V2, cgroupDir, differentialSetup } from "../helpers/cgroups.js";

const { s, rc } = differentialSetup();

const PROBE = [
  "mknod /dev/kmsg-probe c 1 11 && echo mknod-ok",
  "(echo tsrun-test: devices cgroup probe >/dev/kmsg-probe) 2>&1 && echo kmsg-ok",
  "head -c 4 /dev/zero | wc -c",
  "echo x >/dev/null && echo null-ok",
].join("; ");

/** Run the probe in a container with these resources.devices; stdout lines. */
function probe(devices: unknown[] | undefined): string {
  const id = s.id("dev");
  const bundle = s.bundle((c) => {
    c.process.args = ["sh", "-c", PROBE];
    for (const k of ["bounding", "effective", "permitted"]) c.process.capabilities[k].push("CAP_MKNOD");
    if (devices === undefined) delete c.linux.resources;
    else c.linux.resources = { devices };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

test("deny-all (the default config): the defaults work, another device's open is refused", () => {
  const out = probe([{ allow: false, access: "rwm" }]);
  expect(out).toContain("mknod-ok");
  expect(out).toContain("Operation not permitted");
  expect(out).not.toContain("kmsg-ok");
  expect(out).toMatch(/^4$/m);
  expect(out).toContain("null-ok");
});

test("no device rules at all: runc's defaults alone, so the same as deny-all", () => {
  const out = probe(undefined);
  expect(out).toContain("Operation not permitted");
  expect(out).toContain("null-ok");
});

test("an allow rule for the device lets it open; write-only is enough for a write-only open", () => {
  const out = probe([{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 11, access: "w" }]);
  expect(out).toContain("kmsg-ok");
  expect(out).toContain("null-ok");
});

test("allow-all then a deny for the device", () => {
  // (A deny of all of c 1:* here would stay in force for /dev/null on v1, which cannot carve the
  // later default allows out of a wider deny: see devices-v1.ts.)
  const out = probe([{ allow: true, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 11, access: "w" }]);
  expect(out).toContain("Operation not permitted");
  expect(out).not.toContain("kmsg-ok");
  expect(out).toContain("null-ok");
  expect(out).toMatch(/^4$/m);
});

test("a deny of /dev/zero (c 1:5) is overridden by runc's defaults, which come last", () => {
  const out = probe([{ allow: false, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 5, access: "rwm" }]);
  expect(out).toMatch(/^4$/m);
});

for (const f of ["podman-config.json", "containerd-config.json"]) {
  test(`the device rules of ${f} apply`, () => {
    const spec = JSON.parse(readFileSync(join(EXAMPLES, f), "utf8"));
    const out = probe(spec.linux.resources.devices);
    expect(out).toContain("Operation not permitted");
    expect(out).toContain("null-ok");
    expect(out).toMatch(/^4$/m);
  });
}

test("a bad rule fails create with its JSON path and leaves nothing behind", () => {
  const id = s.id("bad");
  const bundle = s.bundle((c) => {
    c.linux.resources = { devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, access: "rwx" }] };
  });
  const r = s.tsrun(["run", "--bundle", bundle, id]);
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain("/linux/resources/devices/1/access");
});

/** What a container sees of /dev/kmsg and /dev/zero (made by linux.devices here) and /dev/null. */
const NODES_PROBE = [
  "stat -c '%n %F %t:%T' /dev/kmsg /dev/zero",
  // A subshell: a redirection that fails on a special builtin (":") ends the shell that runs it.
  "(: >/dev/kmsg) 2>/dev/null && echo kmsg-open || echo kmsg-denied",
  "head -c 4 /dev/zero 2>/dev/null | wc -c",
  "echo x >/dev/null && echo null-ok",
].join("; ");

/** The probe under tsrun and under runc with the same bundle: [tsrun's stdout, runc's stdout]. */
function bothRun(edit: (c: any) => void): [string, string] {
  const bundle = s.bundle((c) => {
    c.process.args = ["sh", "-c", NODES_PROBE];
    edit(c);
  });
  const id = s.id("nodes");
  const r = rc.run(["run", "--bundle", bundle, `runc-${id}`], { cwd: s.dir });
  const t = s.tsrun(["run", "--bundle", bundle, id]);
  expect([t.status, t.stderr]).toEqual([r.status, ""]);
  return [t.stdout, r.stdout];
}

test("a linux.devices node is made but not allowed by a deny-all; naming a default's path drops its rule (as runc)", () => {
  const [t, r] = bothRun((c) => {
    c.linux.resources = { devices: [{ allow: false, access: "rwm" }] };
    c.linux.devices = [
      { path: "/dev/kmsg", type: "c", major: 1, minor: 11 },
      { path: "/dev/zero", type: "c", major: 1, minor: 5 },
    ];
  });
  expect(t).toBe(r);
  expect(t).toBe("/dev/kmsg character special file 1:b\n/dev/zero character special file 1:5\nkmsg-denied\n0\nnull-ok\n");
});

test("with an allow rule for it, the linux.devices node opens (as runc)", () => {
  const [t, r] = bothRun((c) => {
    c.linux.resources = { devices: [{ allow: false, access: "rwm" }, { allow: true, type: "c", major: 1, minor: 11, access: "w" }] };
    c.linux.devices = [{ path: "/dev/kmsg", type: "c", major: 1, minor: 11 }];
  });
  expect(t).toBe(r);
  expect(t).toContain("kmsg-open\n4\nnull-ok\n");
});

describe("update applies the device rules again, never opening a window", () => {
  // A loop that opens the denied /dev/kmsg and the allowed /dev/null as fast as it can (held to half a
  // CPU), and says so when the cgroup judges either wrongly; updates run meanwhile. No fork in the loop
  // (a window between two writes is microseconds long): `true` is a regular builtin, whose failed
  // redirection does not end the shell, and stderr is redirected first.
  const LOOP = [
    "true 2>/dev/null >/dev/kmsg && echo kmsg-not-denied-at-start; echo probing",
    "while :; do true 2>/dev/null >/dev/kmsg && echo KMSG-OPENED; true >/dev/null || echo NULL-REFUSED; done",
  ].join("; ");
  const configs: [string, (c: any) => void][] = [
    [
      "deny-all, /dev/kmsg in linux.devices",
      (c) => {
        c.linux.resources = { devices: [{ allow: false, access: "rwm" }] };
        c.linux.devices = [{ path: "/dev/kmsg", type: "c", major: 1, minor: 11 }];
      },
    ],
    [
      "allow-all, then a deny of /dev/kmsg",
      (c) => {
        c.linux.resources = { devices: [{ allow: true, access: "rwm" }, { allow: false, type: "c", major: 1, minor: 11, access: "rwm" }] };
        c.linux.devices = [{ path: "/dev/kmsg", type: "c", major: 1, minor: 11 }];
      },
    ],
  ];
  configs.forEach(([name, edit], n) => {
    // On v2, more updates than the 64 programs a cgroup can hold (each must replace the last one): the
    // bulk through the library, which skips the CLI's start-up (minutes under the VM's emulation).
    const more = V2 && n === 0 ? 60 : 0;
    test(`${name}: 12 updates${more ? ` and ${more} more through the library` : ""} while the container opens devices (${LAYOUT})`, async () => {
      const id = s.id("devupd");
      const bundle = s.bundle((c) => {
        c.process.args = ["sh", "-c", LOOP];
        edit(c);
        c.linux.resources.cpu = { quota: 50000, period: 100000 };
      });
      const r = s.tsrun(["run", "-d", "--bundle", bundle, id]);
      expect(r.status).toBe(0);
      waitFor(() => (readFileSync(r.outFile, "utf8").includes("probing") ? true : undefined), 30_000);
      const list = () => readFileSync(join(cgroupDir("devices", `/tsrun/${id}`), "devices.list"), "utf8");
      const before = V2 ? "" : list();
      for (let i = 0; i < 12; i++) {
        const u = s.tsrun(["update", "--pids-limit", String(30 + i), id]);
        expect([i, u.status, u.stderr]).toEqual([i, 0, ""]);
      }
      const warnings: string[] = [];
      const ctx = makeContext(s.root, { warn: (m) => warnings.push(m) });
      for (let i = 0; i < more; i++) await updateContainer(ctx, id, { pids: { limit: 100 + i } });
      expect(warnings).toEqual([]);
      expect(s.state(id).status).toBe("running");
      expect(readFileSync(r.outFile, "utf8")).toBe("probing\n");
      if (!V2) expect(list()).toBe(before);
      expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
    }, 600_000); // updates take seconds each under the v2 VM's emulation
  });

  test("update puts back rules someone else changed, a change of default frozen (v1)", () => {
    if (V2) {
      // The eBPF program cannot be changed in place from outside; the 70 updates above replace it.
      console.log("unified host: no v1 devices files to change behind tsrun's back; checked by the update loops above");
      expect(LAYOUT).toBe("unified");
      return;
    }
    const id = s.id("devfix");
    const bundle = s.bundle((c) => {
      c.process.args = ["sleep", "300"];
      c.linux.resources = { devices: [{ allow: false, access: "rwm" }] };
    });
    expect(s.tsrun(["run", "-d", "--bundle", bundle, id]).status).toBe(0);
    const dir = cgroupDir("devices", `/tsrun/${id}`);
    const list = () => readFileSync(join(dir, "devices.list"), "utf8");
    const before = list();
    // An extra allow: taken away again (a minimal change: no "a").
    writeFileSync(join(dir, "devices.allow"), "c 1:11 rw");
    expect(list()).not.toBe(before);
    expect(s.tsrun(["update", "--pids-limit", "40", id])).toMatchObject({ status: 0, stderr: "" });
    expect(list()).toBe(before);
    // Another default: a disruptive change, made while frozen, and thawed after.
    writeFileSync(join(dir, "devices.allow"), "a");
    expect(list()).toBe("a *:* rwm\n");
    expect(s.tsrun(["update", "--pids-limit", "41", id])).toMatchObject({ status: 0, stderr: "" });
    expect(list()).toBe(before);
    expect(s.state(id).status).toBe("running");
    expect(s.tsrun(["delete", "--force", id]).status).toBe(0);
  });
});
