/**
 * linux.netDevices (runtime-spec 1.3, config-linux.md "Network Devices") -> which host interfaces move
 * into the container's network namespace and under which names, and the `ip -batch` lines that move
 * them in and back. Pure: every config check happens here, before anything is made; the host's links
 * are a fact the caller gives (lazily: only a config with netDevices asks for them).
 */
import { ConfigError } from "../errors.js";

/** The kernel's IFNAMSIZ less its NUL. */
const IFNAMSIZ = 15;

export interface NetDevicePlan {
  /** Name in the runtime's (tsrun's) network namespace: the config's key. */
  readonly host: string;
  /** Name inside the container: the entry's `name`, else the key. */
  readonly container: string;
  /** JSON path of the entry, for errors. */
  readonly field: string;
}

export interface NetDevicesPlan {
  readonly devices: readonly NetDevicePlan[];
  /** The network namespace is joined by path (kept by its owner after the container's processes are gone). */
  readonly joinedPath?: string;
}

/** The parts of a config the plan reads. */
export interface NetDevicesSpec {
  linux?: { netDevices?: Record<string, { name?: string }>; namespaces?: readonly { type: string; path?: string }[] };
  tsrun?: { network?: { interfaces?: readonly { name: string }[] } };
}

export interface NetDevicesHostFacts {
  /** tsrun is not plain host root (rootless, or root of a user namespace). */
  readonly rootless: boolean;
  /** Whether a network namespace file is tsrun's own. */
  readonly isHostNetns: (path: string) => boolean;
  /** Names of the links in tsrun's network namespace, or in the one at `netnsPath`; absent: not checked here
   *  (the move then fails with the kernel's word). */
  readonly links?: (netnsPath?: string) => readonly string[];
}

/** The kernel's rule (dev_valid_name): 1-15 bytes, not "." or "..", no "/", ":" or white space. */
export function checkDeviceName(name: string, field: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) throw new ConfigError(field, "a network device name cannot be empty");
  if (bytes > IFNAMSIZ) throw new ConfigError(field, `network device name "${name}" is longer than ${IFNAMSIZ} bytes`);
  if (name === "." || name === ".." || /[/:\s]/.test(name)) throw new ConfigError(field, `"${name}" is not a valid network device name`);
}

/** JSON pointer escaping of a key (RFC 6901), so the path names the entry even when its key has a "/". */
const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** linux.netDevices of a config -> what create moves; undefined when there is nothing to move. */
export function planNetDevices(spec: NetDevicesSpec, host: NetDevicesHostFacts): NetDevicesPlan | undefined {
  const entries = Object.entries(spec.linux?.netDevices ?? {});
  if (entries.length === 0) return undefined;
  const base = "/linux/netDevices";
  if (host.rootless) {
    // Moving a device needs CAP_NET_ADMIN over tsrun's network namespace, which only host root has (runc refuses too).
    throw new ConfigError(base, "moving host network devices needs host root: not supported in a rootless container");
  }
  const netns = spec.linux?.namespaces?.find((n) => n.type === "network");
  if (!netns) {
    throw new ConfigError(base, 'unable to move network devices without a network namespace of the container\'s own: add {"type": "network"} to /linux/namespaces');
  }
  const joinedPath = netns.path ? netns.path : undefined;
  if (joinedPath && host.isHostNetns(joinedPath)) {
    throw new ConfigError(base, `the network namespace joined by path (${joinedPath}) is tsrun's own: the devices would not move`);
  }

  const devices = entries.map(([key, dev]): NetDevicePlan => {
    const field = `${base}/${pointer(key)}`;
    checkDeviceName(key, field);
    if (key === "lo") throw new ConfigError(field, `"lo" is the loopback device: the kernel never moves it`);
    const name = dev.name ? dev.name : key;
    if (dev.name) checkDeviceName(dev.name, `${field}/name`);
    return { host: key, container: name, field };
  });

  // Names inside the container: each once, none that the namespace has already or tsrun.network makes.
  const taken = new Map<string, string>([["lo", "the loopback device"]]);
  (spec.tsrun?.network?.interfaces ?? (spec.tsrun?.network ? [{ name: "eth0" }] : [])).forEach((itf, i) => taken.set(itf.name, `/tsrun/network/interfaces/${i}`));
  if (joinedPath && host.links) {
    for (const l of host.links(joinedPath)) if (!taken.has(l)) taken.set(l, `a device of the network namespace ${joinedPath}`);
  }
  for (const d of devices) {
    const f = d.container === d.host ? d.field : `${d.field}/name`;
    const other = taken.get(d.container);
    if (other) throw new ConfigError(f, `the name "${d.container}" in the container is already taken by ${other}`);
    taken.set(d.container, d.field);
  }

  if (host.links) {
    const present = new Set(host.links());
    for (const d of devices) {
      if (!present.has(d.host)) throw new ConfigError(d.field, `no network device "${d.host}" in tsrun's network namespace`);
    }
  }
  return { devices, ...(joinedPath ? { joinedPath } : {}) };
}

/** An address of a device, as `ip -j addr` shows it. */
export interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  dynamic?: boolean;
}

/** What a moved device had on the host, recorded before the move: put back on the host by delete. */
export interface DeviceState {
  /** Addresses in CIDR form ("10.1.2.3/24"). */
  addresses: string[];
  up: boolean;
}

/** As runc keeps them: permanent addresses of global scope (dynamic, link and host ones belong to where they were made). */
export function keptAddresses(info: readonly IpAddrInfo[]): string[] {
  return info.filter((a) => !a.dynamic && (a.scope ?? "global") === "global").map((a) => `${a.local}/${a.prefixlen}`);
}

function addrLine(cidr: string, dev: string): string {
  // nodad: the address is usable at once, as tsrun.network's are (the container may bind it before DAD would end).
  return `addr add ${cidr} dev ${dev}${cidr.includes(":") ? " nodad" : ""}`;
}

/**
 * Lines for `ip -batch -` in tsrun's namespace: each device down (as runc, so nothing on the host uses it
 * mid-move), then moved and renamed in one request (no clash with a host name in between).
 * `target`: a path of the container's network namespace file.
 */
export function moveInBatch(devices: readonly NetDevicePlan[], target: string): string[] {
  return devices.flatMap((d) => [`link set dev ${d.host} down`, `link set dev ${d.host} netns ${target} name ${d.container}`]);
}

/** Lines inside the container's namespace: the kept addresses again (a move drops them), then up (as runc). */
export function inContainerBatch(devices: readonly NetDevicePlan[], states: readonly DeviceState[]): string[] {
  return devices.flatMap((d, i) => [...states[i].addresses.map((a) => addrLine(a, d.container)), `link set dev ${d.container} up`]);
}

/** Lines inside the container's namespace that send each device back to `target` (tsrun's) under its host name. */
export function moveBackBatch(devices: readonly Pick<NetDevicePlan, "host" | "container">[], target: string): string[] {
  return devices.flatMap((d) => [`link set dev ${d.container} down`, `link set dev ${d.container} netns ${target} name ${d.host}`]);
}

/** Lines in tsrun's namespace once a device is back: its recorded addresses, and up if it was. */
export function restoreBatch(devices: readonly { host: string; state: DeviceState }[]): string[] {
  return devices.flatMap((d) => [...d.state.addresses.map((a) => addrLine(a, d.host)), ...(d.state.up ? [`link set dev ${d.host} up`] : [])]);
}
