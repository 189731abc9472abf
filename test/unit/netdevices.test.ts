/**
 * linux.netDevices, the pure part (src/network/netdevices.ts): which devices move under which names, every
 * refusal with the field it names, and the ip lines that move them in and back. The moves themselves are
 * tested with real containers in test/integration/netdevices.test.ts.
 */
import { ConfigError } from "../../src/errors.js";
import {
  type NetDevicesHostFacts,
  type NetDevicesSpec,
  inContainerBatch,
  keptAddresses,
  moveBackBatch,
  moveInBatch,
  planNetDevices,
  restoreBatch,
} from "../../src/network/netdevices.js";
import { refuseUnsupported } from "../../src/plan/unsupported.js";

const NEWNET = [{ type: "network" }, { type: "mount" }];
const host = (over: Partial<NetDevicesHostFacts> = {}): NetDevicesHostFacts => ({
  rootless: false,
  isHostNetns: (p) => p === "/proc/self/ns/net",
  links: (ns) => (ns ? ["lo", "eth0", "busy0"] : ["lo", "eth0", "d0", "d1", "ens5"]),
  ...over,
});
const spec = (netDevices: Record<string, { name?: string }>, namespaces: { type: string; path?: string }[] = NEWNET, extra: object = {}): NetDevicesSpec => ({
  linux: { netDevices, namespaces },
  ...extra,
});

function refusal(s: NetDevicesSpec, h = host()): ConfigError {
  try {
    planNetDevices(s, h);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error("not refused");
}

test("no netDevices, or an empty object: nothing to move", () => {
  expect(planNetDevices({ linux: { namespaces: NEWNET } }, host())).toBeUndefined();
  expect(planNetDevices(spec({}), host())).toBeUndefined();
});

test("each device moves under its name, or the one the entry gives", () => {
  const plan = planNetDevices(spec({ d0: {}, d1: { name: "net1" }, ens5: { name: "" } }), host());
  expect(plan).toEqual({
    devices: [
      { host: "d0", container: "d0", field: "/linux/netDevices/d0" },
      { host: "d1", container: "net1", field: "/linux/netDevices/d1" },
      // An empty name keeps the host's (runc: "the zero value").
      { host: "ens5", container: "ens5", field: "/linux/netDevices/ens5" },
    ],
  });
});

test("a joined network namespace is allowed (runc's own tests move devices into one) and recorded", () => {
  const plan = planNetDevices(spec({ d0: { name: "c0" } }, [{ type: "network", path: "/run/netns/x" }]), host());
  expect(plan?.joinedPath).toBe("/run/netns/x");
});

test.each([
  ["rootless", spec({ d0: {} }), host({ rootless: true }), "/linux/netDevices", "needs host root"],
  ["no network namespace", spec({ d0: {} }, [{ type: "mount" }]), host(), "/linux/netDevices", "without a network namespace"],
  ["joining tsrun's own namespace", spec({ d0: {} }, [{ type: "network", path: "/proc/self/ns/net" }]), host(), "/linux/netDevices", "is tsrun's own"],
  ["a device that does not exist", spec({ nope0: {} }), host(), "/linux/netDevices/nope0", 'no network device "nope0"'],
  ["the loopback device", spec({ lo: { name: "lo2" } }), host(), "/linux/netDevices/lo", "loopback"],
  ["a name too long", spec({ d0: { name: "a-very-long-name0" } }), host(), "/linux/netDevices/d0/name", "longer than 15 bytes"],
  ["a name with a slash", spec({ d0: { name: "a/b" } }), host(), "/linux/netDevices/d0/name", "not a valid network device name"],
  ["a name with a colon", spec({ d0: { name: "a:b" } }), host(), "/linux/netDevices/d0/name", "not a valid network device name"],
  ["a name with a space", spec({ d0: { name: "a b" } }), host(), "/linux/netDevices/d0/name", "not a valid network device name"],
  ["a key of '..'", spec({ "..": {} }), host(), "/linux/netDevices/..", "not a valid"],
  ["two devices, one name", spec({ d0: { name: "x" }, d1: { name: "x" } }), host(), "/linux/netDevices/d1/name", 'taken by /linux/netDevices/d0'],
  ["a rename onto another device's name", spec({ d0: {}, d1: { name: "d0" } }), host(), "/linux/netDevices/d1/name", "already taken"],
  ["the name of lo in the container", spec({ d0: { name: "lo" } }), host(), "/linux/netDevices/d0/name", "the loopback device"],
  ["the name of a tsrun.network interface", spec({ d0: { name: "eth0" } }, NEWNET, { tsrun: { network: { subnet: "10.9.0.0/24" } } }), host(), "/linux/netDevices/d0/name", "/tsrun/network/interfaces/0"],
  ["the name of a device in the joined namespace", spec({ d0: { name: "busy0" } }, [{ type: "network", path: "/run/netns/x" }]), host(), "/linux/netDevices/d0/name", "a device of the network namespace /run/netns/x"],
] as const)("refused: %s", (_what, s, h, field, words) => {
  const e = refusal(s, h);
  expect(e.field).toBe(field);
  expect(e.message).toContain(`config.json ${field}: `);
  expect(e.message).toContain(words);
});

test("a key with a slash is named as a JSON pointer", () => {
  expect(refusal(spec({ "a/b": {} })).field).toBe("/linux/netDevices/a~1b");
});

test("without the host's links, existence is left to the move (dry runs, embedders)", () => {
  expect(planNetDevices(spec({ nope0: {} }), host({ links: undefined }))?.devices).toHaveLength(1);
});

test("netDevices is no longer refused as unsupported", () => {
  expect(() => refuseUnsupported({ linux: { netDevices: { eth1: {} } } })).not.toThrow();
});

test("kept addresses: permanent ones of global scope, as runc", () => {
  expect(
    keptAddresses([
      { family: "inet", local: "10.9.0.1", prefixlen: 24, scope: "global" },
      { family: "inet", local: "10.9.1.1", prefixlen: 24, scope: "global", dynamic: true },
      { family: "inet", local: "127.0.0.2", prefixlen: 8, scope: "host" },
      { family: "inet6", local: "fd99::1", prefixlen: 64, scope: "global" },
      { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
    ]),
  ).toEqual(["10.9.0.1/24", "fd99::1/64"]);
});

test("the ip lines: down, then moved and renamed in one request; addresses and up inside; and back", () => {
  const devices = [
    { host: "d0", container: "c0", field: "/linux/netDevices/d0" },
    { host: "d1", container: "d1", field: "/linux/netDevices/d1" },
  ];
  expect(moveInBatch(devices, "/proc/9/fd/20")).toEqual([
    "link set dev d0 down",
    "link set dev d0 netns /proc/9/fd/20 name c0",
    "link set dev d1 down",
    "link set dev d1 netns /proc/9/fd/20 name d1",
  ]);
  const states = [{ addresses: ["10.9.0.1/24", "fd99::1/64"], up: false }, { addresses: [], up: true }];
  // Up whatever the state on the host (as runc); IPv6 without DAD, as tsrun.network's addresses.
  expect(inContainerBatch(devices, states)).toEqual(["addr add 10.9.0.1/24 dev c0", "addr add fd99::1/64 dev c0 nodad", "link set dev c0 up", "link set dev d1 up"]);
  expect(moveBackBatch(devices, "/proc/7/ns/net")).toEqual([
    "link set dev c0 down",
    "link set dev c0 netns /proc/7/ns/net name d0",
    "link set dev d1 down",
    "link set dev d1 netns /proc/7/ns/net name d1",
  ]);
  // Back on the host: the recorded addresses, and up only if it was.
  expect(restoreBatch(devices.map((d, i) => ({ host: d.host, state: states[i] })))).toEqual(["addr add 10.9.0.1/24 dev d0", "addr add fd99::1/64 dev d0 nodad", "link set dev d1 up"]);
});
