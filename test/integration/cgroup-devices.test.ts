// linux.resources.devices for real: the container's opens and mknods are judged by the v1 devices
// cgroup (this host) or by the eBPF program on cgroup v2 (run in the v2 VM: test/v2vm/cgroup-tests.sh).
// Device under test: /dev/kmsg (c 1:11), which is not among runc's default devices; the container
// makes its own node with mknod (allowed for any device by the defaults) and opens it write-only
// (the open is what the device cgroup judges; a write-only open of kmsg needs no capability).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Scratch, ensureBuilt } from "../helpers/tsrun.js";
import { EXAMPLES } from "../helpers/examples.js";

const s = new Scratch();
beforeAll(() => ensureBuilt());
afterAll(() => expect(s.cleanup()).toEqual([]));


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
