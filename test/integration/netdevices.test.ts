// linux.netDevices (runtime-spec 1.3) with real containers. SAFETY: every device is made INSIDE a network
// namespace made here, and tsrun runs there (nsenter --net=/run/netns/<ns>), so its "host" namespace is the
// test's: nothing is made or moved in the machine's own. Only 10.79.0.0/16 and fd79::/64 are used. The
// containers are deleted inside that namespace (never by Scratch.cleanup, whose delete runs in the machine's
// namespace and would move a device there), and the namespaces go in afterAll, taking any device with them.
// Not differential: runc 1.1.5 (the installed runc) predates netDevices.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Scratch, TOP, ensureBuilt, leftovers, waitFor } from "../helpers/tsrun.js";
import { IP, NSENTER, TSRUN_FAULTS, ensureRelBuilt } from "../helpers/reliability.js";
import { ip, sh } from "../helpers/host.js";

const s = new Scratch();
const NS = `tsrun-nd${process.pid}`;
/** A namespace joined by path (as runc's own netdev tests do). */
const JOINED = `tsrun-ndj${process.pid}`;
const ids: string[] = [];
let seq = 0;
/** The device kind: dummy where the kernel has it (not on every machine kind: this one lacks the module), else ifb. */
let kind = "";
/** Devices that loading dummy or ifb makes in the INITIAL network namespace, whichever namespace loads it
 *  (numdummies=1: dummy0; numifbs=2: ifb0, ifb1), and names this file's devices could have if one ever
 *  landed in the machine's namespace (the kernel renames to devN on a clash). */
const MODULE_MADE = /^(dummy|ifb)\d+$/;
const OURS = /^(nd\d+|ctr0|dn0|j0|h0|k0|probe0|dev\d+)$/;
/** The machine's (this process's) links before this file made anything. */
let hostBefore: string[] = [];

/** bin/tsrun (or the fault build) inside the test's namespace, with an empty environment. */
function tsrun(args: string[], opts: { faults?: string } = {}) {
  const bin = opts.faults !== undefined ? TSRUN_FAULTS : join(TOP, "bin/tsrun");
  return s.command(NSENTER, [`--net=/run/netns/${NS}`, "--", bin, "--root", s.root, ...args], opts.faults !== undefined ? { env: { TSRUN_FAULT: opts.faults } } : {});
}
function newId(name: string): string {
  const id = `t${process.pid}-nd-${name}-${seq++}`;
  ids.push(id);
  return id;
}

/** A device `name` in the test's namespace with an IPv4 and an IPv6 address, up unless `up` is false.
 *  A device meant to be down is never set up: setting a device down flushes its IPv6 addresses (the
 *  kernel's default, net.ipv6.conf.*.keep_addr_on_down=0), while addresses added to a down device stay. */
function makeDevice(name: string, v4: string, v6: string, up = true): void {
  ip("-n", NS, "link", "add", name, "type", kind);
  ip("-n", NS, "addr", "add", v4, "dev", name);
  ip("-n", NS, "addr", "add", v6, "dev", name, "nodad");
  if (up) ip("-n", NS, "link", "set", name, "up");
  expect(links().get(name)).toEqual({ up, addresses: [v4, v6] });
}
const hostLinks = (): string[] => (JSON.parse(ip("-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname);
const MODPROBE = ["/usr/sbin/modprobe", "/sbin/modprobe"].find((p) => existsSync(p));
/** name -> { up, addresses (global ones, CIDR) } of the links in `ns`. */
function links(ns = NS): Map<string, { up: boolean; addresses: string[] }> {
  const all = JSON.parse(ip("-n", ns, "-j", "addr", "show")) as { ifname: string; flags: string[]; addr_info: { local: string; prefixlen: number; scope: string }[] }[];
  return new Map(all.map((l) => [l.ifname, { up: l.flags.includes("UP"), addresses: l.addr_info.filter((a) => a.scope === "global").map((a) => `${a.local}/${a.prefixlen}`) }]));
}

function bundle(netDevices: object, script = "true", edit: (c: any) => void = () => {}): string { // eslint-disable-line @typescript-eslint/no-explicit-any
  return s.bundle((c) => {
    c.linux.netDevices = netDevices;
    c.process.args = ["sh", "-c", script];
    edit(c);
  });
}

beforeAll(() => {
  ensureBuilt();
  ensureRelBuilt();
  hostBefore = hostLinks();
  ip("netns", "add", NS);
  ip("netns", "add", JOINED);
  // Loading dummy or ifb (modprobe, or the kernel's own request on the first `ip link add type X`, even in
  // another namespace) makes devices in the machine's namespace. Where modules load and one is not loaded
  // yet, load it first with none (a built-in one made its devices at boot: nothing to do here).
  if (MODPROBE && existsSync("/proc/modules")) {
    const loaded = readFileSync("/proc/modules", "utf8");
    for (const [k, none] of [["dummy", "numdummies=0"], ["ifb", "numifbs=0"]]) {
      if (!new RegExp(`^${k} `, "m").test(loaded)) sh(MODPROBE, ["-q", k, none]);
    }
  }
  for (const k of ["dummy", "ifb"]) {
    if (sh(IP, ["-n", NS, "link", "add", "probe0", "type", k]).status === 0) {
      kind = k;
      ip("-n", NS, "link", "del", "probe0");
      break;
    }
  }
  // The module loaded some other way with its default count (no modprobe at hand, or it refused the
  // parameter): delete exactly the devices it made here, those that were not there before.
  const made = hostLinks().filter((n) => MODULE_MADE.test(n) && !hostBefore.includes(n));
  for (const n of made) ip("link", "del", n);
  if (made.length) console.log(`netdevices: loading the ${kind} module made ${made.join(", ")} in the machine's network namespace; deleted`);
  if (kind !== "dummy") console.log(`netdevices: the kernel has no dummy device type; the tests use ${kind || "nothing (all skipped below fail)"} devices, virtual too`);
});
afterAll(() => {
  for (const id of ids) if (existsSync(join(s.root, id))) tsrun(["delete", "--force", id]);
  const leaks = leftovers(s.root, ids);
  for (const ns of [NS, JOINED]) sh(IP, ["netns", "del", ns]);
  expect(s.cleanup()).toEqual([]);
  expect(leaks).toEqual([]);
  // Nothing of this file's in the machine's namespace (other tests' links, made meanwhile, are not looked at).
  expect(hostLinks().filter((n) => !hostBefore.includes(n) && (MODULE_MADE.test(n) || OURS.test(n)))).toEqual([]);
});

test("a device kind to test with exists", () => {
  expect(kind).not.toBe("");
});

test("create moves the device in, renamed, with its addresses and up; delete brings it back with its name and addresses", () => {
  makeDevice("nd0", "10.79.0.1/24", "fd79::1/64");
  const id = newId("move");
  const b = bundle({ nd0: { name: "ctr0" } });
  const c = tsrun(["create", "--bundle", b, id]);
  expect(c.stderr).toBe("");
  expect(c.status).toBe(0);
  // Gone from the test's namespace; inside the container (through its init's namespace) under the new name.
  expect(links().has("nd0")).toBe(false);
  const initPid = JSON.parse(tsrun(["state", id]).stdout).pid as number;
  const inside = JSON.parse(sh(NSENTER, [`--net=/proc/${initPid}/ns/net`, "--", IP, "-j", "addr", "show", "dev", "ctr0"]).stdout)[0];
  expect(inside.ifname).toBe("ctr0");
  expect(inside.flags).toContain("UP");
  const addrs = inside.addr_info.filter((a: any) => a.scope === "global").map((a: any) => `${a.local}/${a.prefixlen}`); // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(addrs.sort()).toEqual(["10.79.0.1/24", "fd79::1/64"]);
  // Deleted while its init still waits (created): the namespace is there to move the device back from.
  const d = tsrun(["delete", "--force", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(links().get("nd0")).toEqual({ up: true, addresses: ["10.79.0.1/24", "fd79::1/64"] });
});

test("the container's process sees the device under its name, with its addresses", () => {
  makeDevice("nd1", "10.79.1.1/24", "fd79:1::1/64", false);
  const id = newId("inside");
  const r = tsrun(["run", "--bundle", bundle({ nd1: {} }, "ip -o addr show dev nd1; ip -o link show dev nd1; ip -o link show | wc -l"), id]);
  expect(r.stderr).toContain("not moved back"); // foreground run: see the next tests
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("inet 10.79.1.1/24");
  expect(r.stdout).toContain("inet6 fd79:1::1/64");
  // Up inside although it was down on the host (runc sets it up); lo and nd1 only.
  expect(r.stdout).toMatch(/nd1: <[^>]*\bUP\b/);
  expect(r.stdout.trim().split("\n").pop()!.trim()).toBe("2");
});

test("a device down on the host: up inside with both addresses; back down with both after delete", () => {
  makeDevice("nd8", "10.79.8.1/24", "fd79:8::1/64", false);
  const id = newId("down");
  const c = tsrun(["create", "--bundle", bundle({ nd8: { name: "dn0" } }), id]);
  expect(c.stderr).toBe("");
  expect(c.status).toBe(0);
  const initPid = JSON.parse(tsrun(["state", id]).stdout).pid as number;
  const inside = JSON.parse(sh(NSENTER, [`--net=/proc/${initPid}/ns/net`, "--", IP, "-j", "addr", "show", "dev", "dn0"]).stdout)[0];
  expect(inside.flags).toContain("UP");
  const addrs = inside.addr_info.filter((a: any) => a.scope === "global").map((a: any) => `${a.local}/${a.prefixlen}`); // eslint-disable-line @typescript-eslint/no-explicit-any
  expect(addrs.sort()).toEqual(["10.79.8.1/24", "fd79:8::1/64"]);
  const d = tsrun(["delete", "--force", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(links().get("nd8")).toEqual({ up: false, addresses: ["10.79.8.1/24", "fd79:8::1/64"] });
});

test("a container that died first: its namespace ends with it, delete says so and succeeds (a virtual device is gone)", () => {
  makeDevice("nd2", "10.79.2.1/24", "fd79:2::1/64");
  const id = newId("died");
  const r = tsrun(["run", "--detach", "--bundle", bundle({ nd2: {} }, "true"), id]);
  expect(r.status).toBe(0);
  waitFor(() => (JSON.parse(tsrun(["state", id]).stdout).status === "stopped" ? true : undefined));
  const d = tsrun(["delete", id]);
  expect(d.status).toBe(0);
  expect(d.stderr).toContain("linux.netDevices: nd2 not moved back: the container's network namespace ended with its last process");
  // The kernel removed the virtual device with the namespace (a physical one would be in the initial namespace).
  waitFor(() => (links().has("nd2") ? undefined : true));
});

test("a namespace joined by path outlives the container: delete moves the device back from it", () => {
  makeDevice("nd3", "10.79.3.1/24", "fd79:3::1/64");
  const id = newId("joined");
  const b = bundle({ nd3: { name: "j0" } }, "ip -o addr show dev j0", (c) => {
    c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === "network" ? { type: "network", path: `/run/netns/${JOINED}` } : n)); // eslint-disable-line @typescript-eslint/no-explicit-any
  });
  const r = tsrun(["run", "--bundle", b, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  expect(r.stdout).toContain("inet 10.79.3.1/24");
  expect(links(JOINED).has("j0")).toBe(false);
  expect(links().get("nd3")).toEqual({ up: true, addresses: ["10.79.3.1/24", "fd79:3::1/64"] });
});

test("a create that fails after the move (a failing createRuntime hook) leaves the device back", () => {
  makeDevice("nd4", "10.79.4.1/24", "fd79:4::1/64");
  const id = newId("hookfail");
  const c = tsrun(["create", "--bundle", bundle({ nd4: { name: "h0" } }, "true", (c) => (c.hooks = { createRuntime: [{ path: "/bin/false" }] })), id]);
  expect(c.status).not.toBe(0);
  expect(c.stderr).toContain("/hooks/createRuntime/0");
  expect(c.stderr).not.toContain("netDevices");
  expect(links().get("nd4")).toEqual({ up: true, addresses: ["10.79.4.1/24", "fd79:4::1/64"] });
  expect(existsSync(join(s.root, id))).toBe(false);
});

const joinedNs = (c: any) => (c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === "network" ? { type: "network", path: `/run/netns/${JOINED}` } : n))); // eslint-disable-line @typescript-eslint/no-explicit-any

test("a create killed after the move, in a joined namespace: delete --force moves the device back (recorded before the move)", () => {
  makeDevice("nd5", "10.79.5.1/24", "fd79:5::1/64");
  const id = newId("crash");
  const c = tsrun(["create", "--bundle", bundle({ nd5: { name: "k0" } }, "true", joinedNs), id], { faults: "create:sync-attached" });
  expect(c.signal).toBe("SIGKILL");
  expect(links().has("nd5")).toBe(false);
  expect(links(JOINED).has("k0")).toBe(true);
  const d = tsrun(["delete", "--force", id]);
  expect(d.stderr).toBe("");
  expect(d.status).toBe(0);
  expect(links(JOINED).has("k0")).toBe(false);
  expect(links().get("nd5")).toEqual({ up: true, addresses: ["10.79.5.1/24", "fd79:5::1/64"] });
});

test("a create killed after the move, in a namespace of its own: the init exits with its parent, so delete --force says the device is lost", () => {
  makeDevice("nd7", "10.79.7.1/24", "fd79:7::1/64");
  const id = newId("crash-own");
  const c = tsrun(["create", "--bundle", bundle({ nd7: {} }), id], { faults: "create:sync-attached" });
  expect(c.signal).toBe("SIGKILL");
  const d = tsrun(["delete", "--force", id]);
  expect(d.status).toBe(0);
  expect(d.stderr).toContain("linux.netDevices: nd7 not moved back");
  waitFor(() => (links().has("nd7") ? undefined : true));
});

describe("refused before anything is made, naming the field", () => {
  beforeAll(() => makeDevice("nd6", "10.79.6.1/24", "fd79:6::1/64"));
  test.each([
    ["a device that does not exist", { nope0: {} }, (_c: any) => {}, "config.json /linux/netDevices/nope0: no network device \"nope0\""], // eslint-disable-line @typescript-eslint/no-explicit-any
    ["no network namespace", { nd6: {} }, (c: any) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== "network")), "config.json /linux/netDevices: unable to move network devices without a network namespace"], // eslint-disable-line @typescript-eslint/no-explicit-any
    ["a name clash in the container", { nd6: { name: "lo" } }, (_c: any) => {}, "config.json /linux/netDevices/nd6/name: the name \"lo\""], // eslint-disable-line @typescript-eslint/no-explicit-any
    ["joining tsrun's own namespace", { nd6: {} }, (c: any) => (c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === "network" ? { type: "network", path: `/run/netns/${NS}` } : n))), "is tsrun's own"], // eslint-disable-line @typescript-eslint/no-explicit-any
  ])("%s", (_what, devices, edit, words) => {
    const id = newId("refused");
    const r = tsrun(["create", "--bundle", bundle(devices, "true", edit), id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(words);
    expect(existsSync(join(s.root, id))).toBe(false);
    expect(links().get("nd6")).toEqual({ up: true, addresses: ["10.79.6.1/24", "fd79:6::1/64"] });
  });
});
