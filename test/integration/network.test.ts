// tsrun.network with real containers. SAFETY: everything runs inside private network namespaces
// made here (tsrun is started through nsenter --net=/run/netns/<ns>, so the bridge and veths it makes
// live there), only 10.77.0.0/16 and fd77::/64 are used, and the namespaces go in afterAll.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ROOTFS, Scratch, TSRUN, ensureBuilt, waitFor } from "../helpers/tsrun.js";

const IP = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].find((p) => existsSync(p))!;
const NSENTER = ["/usr/bin/nsenter", "/usr/sbin/nsenter", "/bin/nsenter"].find((p) => existsSync(p))!;
const BUSYBOX = join(ROOTFS, "bin/busybox");
const s = new Scratch();
const NS = `tsrun-t${process.pid}-1`;
const NS2 = `tsrun-t${process.pid}-2`;
const made: string[] = [];

function sh(file: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(file, args, { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function ip(...args: string[]): string {
  const r = sh(IP, args);
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

let seq = 0;
/** bin/tsrun inside the test's network namespace, with an empty environment, output to files. */
function tsrun(args: string[], ns = NS): { status: number | null; stdout: string; stderr: string; outFile: string } {
  const n = seq++;
  const outFile = join(s.dir, `net-out.${n}`);
  const errFile = join(s.dir, `net-err.${n}`);
  const o = openSync(outFile, "w");
  const e = openSync(errFile, "w");
  try {
    const r = spawnSync(NSENTER, [`--net=/run/netns/${ns}`, "--", TSRUN, "--root", s.root, ...args], { env: {}, cwd: s.dir, timeout: 30_000, stdio: ["ignore", o, e] });
    return { status: r.status, stdout: readFileSync(outFile, "utf8"), stderr: readFileSync(errFile, "utf8"), outFile };
  } finally {
    closeSync(o);
    closeSync(e);
  }
}

/** A bundle running `script` with CAP_NET_RAW (ping) and the given tsrun.network. */
function bundle(script: string, network?: object, edit: (c: any) => void = () => {}): string {
  return s.bundle((c) => {
    c.process.args = ["sh", "-c", script];
    for (const set of ["bounding", "effective", "permitted"]) c.process.capabilities[set].push("CAP_NET_RAW");
    if (network) c.tsrun = { network };
    edit(c);
  });
}

const net = (addresses: string[] | undefined, extra: object = {}) => ({
  bridge: "tsbr0",
  subnet: "10.77.0.0/16",
  gateway: "10.77.0.1",
  interfaces: [{ name: "eth0", ...(addresses ? { addresses } : {}) }],
  ...extra,
});

function links(ns = NS): string[] {
  return ip("-n", ns, "-o", "link", "show").split("\n").filter(Boolean).map((l) => l.split(": ")[1].split("@")[0]);
}
const ipamDir = () => join(s.root, "@ipam");

function startDetached(name: string, b: string): string {
  const id = s.id(name);
  made.push(id);
  const r = tsrun(["run", "--detach", "--bundle", b, id]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return id;
}
function remove(id: string): void {
  expect(tsrun(["delete", "--force", id]).status).toBe(0);
}

beforeAll(() => {
  ensureBuilt();
  ip("netns", "add", NS);
  ip("netns", "add", NS2);
});
afterAll(() => {
  // Inside the namespace first, so delete's `ip link del` runs where the veths are.
  for (const id of made) tsrun(["delete", "--force", id]);
  for (const ns of [NS, NS2]) sh(IP, ["netns", "del", ns]);
  expect(s.cleanup()).toEqual([]);
});

test("two containers on one bridge: ping by address, by a hosts name, over IPv6; the test namespace reaches httpd in one", () => {
  const b = startDetached("srv", bundle("exec httpd -f -p 8080 -h /etc", net(["10.77.0.11/16", "fd77::11/64"]), (c) => (c.hostname = "srv")));
  const out = tsrun(["run", "--bundle", bundle(
    "ping -c1 -W2 10.77.0.11 >/dev/null && echo v4; ping -c1 -W2 srv >/dev/null && echo name; ping6 -c1 -W2 fd77::11 >/dev/null && echo v6; " +
      "wget -q -O - http://srv:8080/hostname; cat /etc/hosts",
    net(["10.77.0.10/16", "fd77::10/64"], { hosts: [{ ip: "10.77.0.11", names: ["srv"] }] }),
  ), s.id("cli")]);
  expect(out.stderr).toBe("");
  expect(out.stdout).toMatch(/^v4\nname\nv6\nsrv\n/);
  expect(out.stdout).toContain("10.77.0.11\tsrv\n");
  // From the test's namespace (the bridge holds the gateway address), with the rootfs's busybox.
  const page = waitFor(() => {
    const r = sh(NSENTER, [`--net=/run/netns/${NS}`, "--", BUSYBOX, "wget", "-q", "-O", "-", "http://10.77.0.11:8080/hostname"]);
    return r.status === 0 ? r.stdout : undefined;
  });
  expect(page).toBe("srv\n");
  remove(b);
});

test("inside: the interface has its name, addresses, MTU and MAC, the default route, and the /etc files", () => {
  const out = tsrun(["run", "--bundle", bundle(
    "ip -o link show eth0; ip -o addr show eth0; ip route; cat /etc/resolv.conf /etc/hostname",
    { ...net(["10.77.0.20/16", "fd77::20/64"]), interfaces: [{ name: "eth0", addresses: ["10.77.0.20/16", "fd77::20/64"], mtu: 1400, mac: "02:77:00:00:00:20" }], dns: { nameservers: ["10.77.0.1"], search: ["example.test"], options: ["ndots:2"] } },
    (c) => (c.hostname = "box20"),
  ), s.id("inside")]);
  expect(out.stderr).toBe("");
  expect(out.stdout).toMatch(/eth0.* mtu 1400 .*link\/ether 02:77:00:00:00:20/);
  expect(out.stdout).toContain("inet 10.77.0.20/16");
  expect(out.stdout).toContain("inet6 fd77::20/64");
  expect(out.stdout).toContain("default via 10.77.0.1 dev eth0");
  expect(out.stdout).toContain("search example.test\nnameserver 10.77.0.1\noptions ndots:2\nbox20\n");
  // The rootfs's own files are untouched.
  expect(readFileSync(join(ROOTFS, "etc/resolv.conf"), "utf8")).not.toContain("example.test");
});

test("after delete no veth, lease or mount is left; the bridge stays (removeBridge removes it)", () => {
  const id = startDetached("gone", bundle("sleep 100", net(["10.77.0.30/16"])));
  expect(links().some((l) => l.startsWith("ts") && l !== "tsbr0")).toBe(true);
  expect(readdirSync(join(ipamDir(), "tsbr0"))).toContain("10.77.0.30");
  remove(id);
  expect(links().filter((l) => l !== "lo")).toEqual(["tsbr0"]);
  expect(existsSync(ipamDir())).toBe(false);
  expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(s.root);
  // removeBridge: the last user takes the bridge with it.
  const out = tsrun(["run", "--bundle", bundle("true", { ...net(["10.77.0.31/16"]), bridge: "tsbr9", removeBridge: true }), s.id("rmbr")]);
  expect(out.stderr).toBe("");
  expect(links()).not.toContain("tsbr9");
});

test("a container with a new netns and no tsrun.network sees only lo", () => {
  const out = tsrun(["run", "--bundle", bundle("ip -o link show | cut -d: -f2"), s.id("lo")]);
  expect(out.stderr).toBe("");
  expect(out.stdout).toBe(" lo\n");
});

test("a netns joined by path is shared and left untouched; with tsrun.network too it is refused", () => {
  ip("-n", NS2, "link", "add", "d77", "type", "veth", "peer", "name", "d77p");
  const joined = (c: any) => (c.linux.namespaces = c.linux.namespaces.map((n: any) => (n.type === "network" ? { type: "network", path: `/run/netns/${NS2}` } : n)));
  const before = links(NS2);
  const out = tsrun(["run", "--bundle", bundle("ip -o link show | cut -d: -f2 | cut -d@ -f1", undefined, joined), s.id("join")]);
  expect(out.stderr).toBe("");
  expect(out.stdout).toBe(" lo\n d77p\n d77\n");
  expect(links(NS2)).toEqual(before);
  const bad = tsrun(["run", "--bundle", bundle("true", net(["10.77.0.40/16"]), joined), s.id("joinnet")]);
  expect(bad.status).not.toBe(0);
  expect(bad.stderr).toContain("/tsrun/network");
  expect(links(NS2)).toEqual(before);
});

test("concurrent creates on a missing bridge make one bridge; addresses without config are all distinct", async () => {
  const ids = [0, 1, 2, 3].map((i) => s.id(`conc${i}`));
  made.push(...ids);
  const b = bundle("ip -o -4 addr show eth0; sleep 100", { bridge: "tsbr1", subnet: "10.77.0.0/16", gateway: "10.77.0.1", interfaces: [{ name: "eth0" }] });
  const codes = await Promise.all(ids.map((id, i) => new Promise<number | null>((resolve) => {
    const out = openSync(join(s.dir, `conc-out.${i}`), "w");
    const p = spawn(NSENTER, [`--net=/run/netns/${NS}`, "--", TSRUN, "--root", s.root, "run", "--detach", "--bundle", b, id], { env: {}, stdio: ["ignore", out, out] });
    p.on("exit", (code) => {
      closeSync(out);
      resolve(code);
    });
  })));
  expect(codes.map((c, i) => (c === 0 ? "" : readFileSync(join(s.dir, `conc-out.${i}`), "utf8")))).toEqual(["", "", "", ""]);
  expect(ip("-n", NS, "-o", "link", "show", "type", "bridge").split("\n").filter((l) => l.includes("tsbr1")).length).toBe(1);
  expect(ip("-n", NS, "-o", "link", "show", "master", "tsbr1").trim().split("\n").length).toBe(4);
  const addrs = ids.map((_, i) => waitFor(() => readFileSync(join(s.dir, `conc-out.${i}`), "utf8").match(/inet (10\.77\.\d+\.\d+)\/16/)?.[1]));
  expect(new Set(addrs).size).toBe(4);
  expect(addrs).not.toContain("10.77.0.1");
  for (const id of ids) remove(id);
  expect(existsSync(ipamDir())).toBe(false);
});

describe("bad input: a clear error naming the field, and nothing left", () => {
  let holder: string;
  beforeAll(() => {
    holder = startDetached("holder", bundle("sleep 100", net(["10.77.0.50/16"])));
    ip("-n", NS, "link", "add", "notbr", "type", "veth", "peer", "name", "notbrp");
  });
  afterAll(() => remove(holder));

  test.each([
    ["address outside the subnet", net(["10.78.0.5/16"]), "/tsrun/network/interfaces/0/addresses/0"],
    ["duplicate address in use", net(["10.77.0.50/16"]), "/tsrun/network/interfaces/0/addresses/0"],
    ["invalid CIDR", net(["10.77.0.300/16"]), "/tsrun/network/interfaces/0/addresses/0"],
    ["interface name over 15 characters", { ...net(["10.77.0.51/16"]), interfaces: [{ name: "eth0-much-too-long", addresses: ["10.77.0.51/16"] }] }, "/tsrun/network/interfaces/0/name"],
    ["a bridge name that is not a bridge", { ...net(["10.77.0.52/16"]), bridge: "notbr" }, "/tsrun/network/bridge"],
    // Fails inside the container's namespace, after the veth pair exists: the undo removes it.
    ["an unreachable route gateway", { ...net(["10.77.0.53/16"]), routes: [{ destination: "10.99.0.0/16", gateway: "10.55.0.1" }] }, "network inside container"],
  ])("%s", (_what, network, field) => {
    const linksBefore = links();
    const leasesBefore = readdirSync(join(ipamDir(), "tsbr0")).sort();
    const id = s.id("bad");
    const r = tsrun(["create", "--bundle", bundle("true", network), id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(field);
    expect(existsSync(join(s.root, id))).toBe(false);
    expect(links()).toEqual(linksBefore);
    expect(readdirSync(join(ipamDir(), "tsbr0")).sort()).toEqual(leasesBefore);
  });
});
