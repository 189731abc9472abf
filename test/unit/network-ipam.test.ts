import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/errors.js";
import { formatIp, parseCidr, parseIp } from "../../src/network/addr.js";
import { IPAM_DIR, Ipam } from "../../src/network/ipam.js";
import { teardownNetwork } from "../../src/network/setup.js";

let root: string;
const live = new Set<string>();
const ipam = () => new Ipam(root, "br0", (id) => live.has(id));
const subnet = parseCidr("10.77.0.0/29", "/s");
const gateway = parseIp("10.77.0.1", "/g");

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "tsrun-ipam-"));
  live.clear();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

test("allocation skips the gateway and held addresses, and never hands one out twice", () => {
  const got: string[] = [];
  for (const id of ["a", "b", "c", "d", "e"]) {
    live.add(id);
    const r = ipam().lease(id, { fixed: [], allocate: 1, subnet, gateway });
    got.push(...r.allocated.map(formatIp));
    expect(readFileSync(join(root, IPAM_DIR, "br0", r.leases[0]), "utf8")).toBe(id);
  }
  expect(got).toEqual(["10.77.0.2", "10.77.0.3", "10.77.0.4", "10.77.0.5", "10.77.0.6"]);
  live.add("f");
  expect(() => ipam().lease("f", { fixed: [], allocate: 1, subnet, gateway })).toThrow(/no free address/);
});

test("a fixed address held by a live container is refused with its field; a dead holder's is reclaimed", () => {
  live.add("a");
  ipam().lease("a", { fixed: [{ ip: parseIp("10.77.0.5", "/f"), field: "/x" }], allocate: 0 });
  live.add("b");
  let err: unknown;
  try {
    ipam().lease("b", { fixed: [{ ip: parseIp("10.77.0.5", "/f"), field: "/tsrun/network/interfaces/0/addresses/0" }], allocate: 1, subnet, gateway });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as Error).message).toMatch(/interfaces\/0\/addresses\/0: 10.77.0.5 is in use by container a/);
  // All or nothing: b's failed request left no lease behind.
  expect(readdirSync(join(root, IPAM_DIR, "br0"))).toEqual(["10.77.0.5"]);
  live.delete("a");
  expect(ipam().lease("b", { fixed: [{ ip: parseIp("10.77.0.5", "/f"), field: "/x" }], allocate: 0 }).leases).toEqual(["10.77.0.5"]);
});

test("release removes only the container's own leases, and the directories once empty", () => {
  live.add("a");
  live.add("b");
  const a = ipam().lease("a", { fixed: [], allocate: 2, subnet, gateway });
  const b = ipam().lease("b", { fixed: [], allocate: 1, subnet, gateway });
  expect(ipam().users("a")).toEqual(["b"]);
  ipam().release("b", a.leases); // not b's: kept
  expect(readdirSync(join(root, IPAM_DIR, "br0")).sort()).toEqual([...a.leases, ...b.leases].sort());
  ipam().release("a", a.leases);
  ipam().release("b", b.leases);
  expect(existsSync(join(root, IPAM_DIR))).toBe(false);
  mkdirSync(root, { recursive: true });
});

test("delete of a record whose network field is not what the network code recorded releases the id's leases", () => {
  // The store keeps the field as opaque JSON: the network code checks it, and cleans up from the id
  // (as for a lost record) what it cannot read. No link is named after this id: none is removed.
  live.add("zz-unit-lost");
  ipam().lease("zz-unit-lost", { fixed: [], allocate: 2, subnet, gateway });
  teardownNetwork({ bridge: "br0", hostVeths: "not a list" }, root, "zz-unit-lost");
  expect(existsSync(join(root, IPAM_DIR))).toBe(false);
  mkdirSync(root, { recursive: true });
});
