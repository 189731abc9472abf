import { ConfigError } from "../../src/errors.js";
import { parseCidr } from "../../src/network/addr.js";
import { etcFiles, etcMounts, hostsFile, resolvConf } from "../../src/network/files.js";
import { containerBatch, fnv1a64, hostBatch, hostVethName, planNetwork } from "../../src/network/plan.js";

const NS = { newNetns: true, joinedNetns: false, newUser: false };
const NET = {
  bridge: "tsbr0",
  subnet: "10.77.0.0/16",
  gateway: "10.77.0.1",
  interfaces: [{ name: "eth0", addresses: ["10.77.0.5/16", "fd77::5/64"], mtu: 1400, mac: "02:00:00:00:00:05" }],
};

test("host veth names: short, stable, distinct per container and interface", () => {
  const a = hostVethName("a", 0);
  expect(a).toMatch(/^ts[0-9a-f]{11}$/);
  expect(hostVethName("a", 0)).toBe(a);
  expect(new Set([a, hostVethName("a", 1), hostVethName("b", 0), hostVethName("x".repeat(1000), 0)]).size).toBe(4);
});

test("the name hash is 64-bit FNV-1a (the published test vectors)", () => {
  expect(fnv1a64("")).toBe(0xcbf29ce484222325n);
  expect(fnv1a64("a")).toBe(0xaf63dc4c8601ec8cn);
  expect(fnv1a64("foobar")).toBe(0x85944171f73967e8n);
});

test("a full config becomes one host batch and one container batch", () => {
  const plan = planNetwork(NET, "c1", NS)!;
  const h = hostVethName("c1", 0);
  expect(hostBatch(plan, 42, true)).toEqual([
    "link add name tsbr0 type bridge",
    "addr add 10.77.0.1/16 dev tsbr0",
    "link set dev tsbr0 up",
    `link add name ${h} mtu 1400 type veth peer name eth0 mtu 1400 address 02:00:00:00:00:05 netns 42`,
    `link set dev ${h} master tsbr0`,
    `link set dev ${h} up`,
  ]);
  expect(containerBatch(plan, [plan.interfaces[0].addresses])).toEqual([
    "addr add 10.77.0.5/16 dev eth0",
    "addr add fd77::5/64 dev eth0 nodad",
    "link set dev eth0 up",
    "route add 0.0.0.0/0 via 10.77.0.1",
  ]);
});

test("routes from the config; an explicit default route replaces the implied one", () => {
  const plan = planNetwork({ ...NET, routes: [{ destination: "0.0.0.0/0", gateway: "10.77.0.254" }, { destination: "fd78::/64" }] }, "c", NS)!;
  expect(containerBatch(plan, [plan.interfaces[0].addresses]).slice(3)).toEqual(["route add 0.0.0.0/0 via 10.77.0.254", "route add fd78::/64 dev eth0"]);
});

test("defaults: bridge tsrun0, one eth0 allocated from the subnet, gateway the subnet's first address", () => {
  const plan = planNetwork({ subnet: "10.77.0.0/24" }, "c", NS)!;
  expect(plan.bridge).toBe("tsrun0");
  expect(plan.interfaces.map((i) => [i.name, i.allocate])).toEqual([["eth0", true]]);
  expect(plan.gateway?.value).toBe(0x0a4d0001n);
});

test.each([
  [{ ...NET, interfaces: [{ name: "eth0", addresses: ["10.78.0.5/16"] }] }, "/tsrun/network/interfaces/0/addresses/0", /outside the subnet/],
  [{ ...NET, interfaces: [{ name: "eth0", addresses: ["10.77.0.5"] }] }, "/tsrun/network/interfaces/0/addresses/0", /CIDR/],
  [{ ...NET, interfaces: [{ name: "eth0", addresses: ["10.77.0.1/16"] }] }, "/tsrun/network/interfaces/0/addresses/0", /gateway/],
  [{ ...NET, interfaces: [{ name: "a", addresses: ["10.77.0.2/16"] }, { name: "b", addresses: ["10.77.0.2/16"] }] }, "/tsrun/network/interfaces/1/addresses/0", /also given/],
  [{ ...NET, interfaces: [{ name: "a-very-long-name0" }] }, "/tsrun/network/interfaces/0/name", /longer than 15/],
  [{ ...NET, interfaces: [{ name: "eth0" }, { name: "eth0" }] }, "/tsrun/network/interfaces/1/name", /twice/],
  [{ ...NET, bridge: "bridge-name-too-long" }, "/tsrun/network/bridge", /longer than 15/],
  [{ ...NET, subnet: "10.77.0.0/40" }, "/tsrun/network/subnet", /prefix/],
  [{ ...NET, gateway: "10.99.0.1" }, "/tsrun/network/gateway", /outside the subnet/],
  [{ interfaces: [{ name: "eth0" }] }, "/tsrun/network/interfaces/0/addresses", /no .*subnet/],
  [{ ...NET, routes: [{ destination: "fd78::/64", gateway: "10.77.0.1" }] }, "/tsrun/network/routes/0/gateway", /family/],
])("bad config %#: ConfigError at its field", (net, field, msg) => {
  let err: unknown;
  try {
    planNetwork(net as any, "c", NS);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).field).toBe(field);
  expect((err as Error).message).toMatch(msg);
});

test("namespaces: joined by path, none, or with a new user namespace are refused", () => {
  expect(() => planNetwork(NET, "c", { ...NS, newNetns: false, joinedNetns: true })).toThrow(/joined by path/);
  expect(() => planNetwork(NET, "c", { ...NS, newNetns: false })).toThrow(/needs a new network namespace/);
  expect(() => planNetwork(NET, "c", { ...NS, newUser: true })).toThrow(/user namespace/);
  expect(planNetwork(undefined, "c", NS)).toBeUndefined();
});

test("resolv.conf, hosts and hostname files", () => {
  expect(resolvConf({ nameservers: ["10.77.0.1", "fd77::1"], search: ["a.test", "b.test"], options: ["ndots:2"] })).toBe(
    "search a.test b.test\nnameserver 10.77.0.1\nnameserver fd77::1\noptions ndots:2\n",
  );
  expect(hostsFile("box", [parseCidr("10.77.0.5/16", "/x")], [{ ip: "10.77.0.9", names: ["db", "db.test"] }])).toBe(
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.77.0.5\tbox\n10.77.0.9\tdb db.test\n",
  );
  expect(etcFiles({}, undefined, []).map((f) => f.name)).toEqual(["hosts"]);
  const files = etcFiles({ dns: {} }, "box", []);
  expect(files.map((f) => f.destination)).toEqual(["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]);
  // A destination the config mounts itself is left to the config.
  const mounts = etcMounts(files, (f) => `/state/${f.name}`, [{ destination: "etc/hosts", type: "bind", source: "/x" }]);
  expect(mounts.map((m) => [m.destination, m.source])).toEqual([["/etc/resolv.conf", "/state/resolv.conf"], ["/etc/hostname", "/state/hostname"]]);
  expect(mounts[0].options).toContain("bind");
});
