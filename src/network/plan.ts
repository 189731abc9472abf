/**
 * tsrun.network -> what to make: the bridge, one veth pair per interface, addresses, routes; and the
 * two `ip -batch` scripts that make it (one run in the host's namespace, one in the container's).
 * Pure: every check of the config happens here, before anything exists.
 */
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import type { ConfigMount } from "../fs/rootfs-plan.js";
import type { TsrunNetwork } from "../spec/types.js";
import { type Cidr, type Ip, formatCidr, formatIp, inSubnet, networkOf, parseCidr, parseIp } from "./addr.js";
import { etcFiles, etcMounts } from "./files.js";

export const DEFAULT_BRIDGE = "tsrun0";
export const IFNAMSIZ = 15;

export interface InterfacePlan {
  /** Name inside the container. */
  name: string;
  /** Host end of the veth pair. */
  hostName: string;
  /** Fixed addresses from the config (with their prefix). */
  addresses: Cidr[];
  /** No addresses in the config: one is allocated from the subnet. */
  allocate: boolean;
  mtu?: number;
  mac?: string;
  /** JSON path of the interface, for errors. */
  field: string;
}

export interface NetworkPlan {
  bridge: string;
  subnet?: Cidr;
  gateway?: Ip;
  interfaces: InterfacePlan[];
  routes: { destination: Cidr; gateway?: Ip }[];
  removeBridge: boolean;
}

/**
 * The host end's name: "ts" + 11 hex digits of a hash of the container id and the interface's index.
 * 13 characters (IFNAMSIZ-1 is 15); stable, and 44 bits make a clash between live containers
 * negligible (one would fail with "File exists"; delete uses the names recorded at create). FNV-1a,
 * not node:crypto: loading that module costs 1.7 ms under Bun, and nothing here needs a secure hash.
 */
export function hostVethName(id: string, index: number): string {
  return "ts" + fnv1a64(`${id}\0${index}`).toString(16).padStart(16, "0").slice(0, 11);
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const U64 = (1n << 64n) - 1n;

/** 64-bit FNV-1a of the text's UTF-8 bytes. */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) h = ((h ^ BigInt(b)) * FNV_PRIME) & U64;
  return h;
}

function checkIfName(name: string, field: string): void {
  if (name.length > IFNAMSIZ) throw new ConfigError(field, `interface name "${name}" is longer than ${IFNAMSIZ} characters`);
  if (!/^[!-.0-9;-~]+$/.test(name) || name === "." || name === "..") throw new ConfigError(field, `"${name}" is not a valid interface name`);
}

export interface NamespaceFacts {
  /** The config makes a new network namespace. */
  newNetns: boolean;
  /** The config joins a network namespace by path. */
  joinedNetns: boolean;
  newUser: boolean;
}

/** Resolve and check the config. Undefined when there is no tsrun.network. */
export function planNetwork(net: TsrunNetwork | undefined, id: string, ns: NamespaceFacts): NetworkPlan | undefined {
  if (net === undefined) return undefined;
  const base = "/tsrun/network";
  if (ns.joinedNetns) {
    // The namespace belongs to whoever made it (podman, CNI): tsrun must not add to it.
    throw new ConfigError(base, "the network namespace is joined by path (linux.namespaces); its owner sets up its network: remove one of the two");
  }
  if (!ns.newNetns) throw new ConfigError(base, "needs a new network namespace in /linux/namespaces");
  if (ns.newUser) {
    // The /etc files are bind-mounted from the state directory, which the user namespace's root cannot reach.
    throw new ConfigError(base, "not supported together with a new user namespace in this version of tsrun");
  }
  const bridge = net.bridge ?? DEFAULT_BRIDGE;
  checkIfName(bridge, `${base}/bridge`);
  const subnet = net.subnet !== undefined ? parseCidr(net.subnet, `${base}/subnet`) : undefined;
  let gateway: Ip | undefined;
  if (net.gateway !== undefined) {
    gateway = parseIp(net.gateway, `${base}/gateway`);
    if (subnet && !inSubnet(gateway, subnet)) throw new ConfigError(`${base}/gateway`, `${net.gateway} is outside the subnet ${net.subnet}`);
  } else if (subnet && subnet.family === 4 && subnet.prefix < 31) {
    // As Docker does: the first address of the subnet is the bridge's.
    gateway = { family: 4, value: networkOf(subnet) + 1n };
  }

  const seen = new Map<string, string>();
  const names = new Set<string>();
  const list = net.interfaces ?? [{ name: "eth0" }];
  if (list.length === 0) throw new ConfigError(`${base}/interfaces`, "needs at least one interface");
  const interfaces = list.map((itf, i): InterfacePlan => {
    const field = `${base}/interfaces/${i}`;
    checkIfName(itf.name, `${field}/name`);
    if (itf.name === "lo") throw new ConfigError(`${field}/name`, `"lo" is the loopback interface, made by the kernel`);
    if (names.has(itf.name)) throw new ConfigError(`${field}/name`, `interface "${itf.name}" is listed twice`);
    names.add(itf.name);
    const addresses = (itf.addresses ?? []).map((a, j) => {
      const f = `${field}/addresses/${j}`;
      const c = parseCidr(a, f);
      // Only addresses of the subnet's family are held to it: the other family is routed on the bridge's link.
      if (subnet && c.family === subnet.family && !inSubnet(c, subnet)) throw new ConfigError(f, `${a} is outside the subnet ${net.subnet}`);
      if (gateway && c.family === gateway.family && c.value === gateway.value) throw new ConfigError(f, `${a} is the gateway's address`);
      const key = formatIp(c);
      const before = seen.get(key);
      if (before) throw new ConfigError(f, `${a} is also given at ${before}`);
      seen.set(key, f);
      return c;
    });
    const allocate = addresses.length === 0;
    if (allocate && !subnet) throw new ConfigError(`${field}/addresses`, `no addresses and no ${base}/subnet to allocate one from`);
    if (itf.mtu !== undefined && (!Number.isInteger(itf.mtu) || itf.mtu < 68 || itf.mtu > 65535)) throw new ConfigError(`${field}/mtu`, `${itf.mtu} is not an MTU (68-65535)`);
    if (itf.mac !== undefined && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(itf.mac)) throw new ConfigError(`${field}/mac`, `"${itf.mac}" is not a MAC address`);
    return { name: itf.name, hostName: hostVethName(id, i), addresses, allocate, mtu: itf.mtu, mac: itf.mac?.toLowerCase(), field };
  });

  const routes = (net.routes ?? []).map((r, i) => {
    const destination = parseCidr(r.destination, `${base}/routes/${i}/destination`);
    const gw = r.gateway !== undefined ? parseIp(r.gateway, `${base}/routes/${i}/gateway`) : undefined;
    if (gw && gw.family !== destination.family) throw new ConfigError(`${base}/routes/${i}/gateway`, `${r.gateway} is not of the destination's family`);
    return { destination, gateway: gw };
  });
  return { bridge, subnet, gateway, interfaces, routes, removeBridge: net.removeBridge ?? false };
}

/**
 * Everything create needs to set up a container's network, decided before anything exists: the plan, the
 * config's dns and hosts entries (the /etc files' text waits for the leased addresses), and the bind
 * mounts of those files, whose state-directory paths do not depend on the addresses.
 */
export interface ContainerNetworkPlan {
  readonly plan: NetworkPlan;
  /** tsrun.network as the config gives it (dns, hosts: the text of the /etc files). */
  readonly config: TsrunNetwork;
  /** The container's hostname, for /etc/hostname and /etc/hosts (undefined when none). */
  readonly hostname?: string;
  /** Bind mounts of the /etc files from the state directory, to add after the config's own mounts. */
  readonly mounts: readonly ConfigMount[];
}

/** The parts of a config the network plan reads. */
export interface NetworkPlanSpec {
  tsrun?: { network?: TsrunNetwork };
  hostname?: string;
  mounts?: readonly ConfigMount[];
  linux?: { namespaces?: readonly { type: string; path?: string }[] };
}

/** tsrun.network of a config -> what create makes for it; undefined when there is none. Pure. */
export function planContainerNetwork(spec: NetworkPlanSpec, id: string, stateDir: string): ContainerNetworkPlan | undefined {
  const config = spec.tsrun?.network;
  const nss = spec.linux?.namespaces ?? [];
  const netns = nss.find((n) => n.type === "network");
  const plan = planNetwork(config, id, {
    newNetns: netns !== undefined && !netns.path,
    joinedNetns: netns?.path !== undefined && netns.path !== "",
    newUser: nss.some((n) => n.type === "user" && !n.path),
  });
  if (!plan || !config) return undefined;
  const hostname = spec.hostname || undefined;
  // Which files there are depends on the config only; their addresses are filled in at create.
  const mounts = etcMounts(etcFiles(config, hostname, []), (f) => join(stateDir, f.name), spec.mounts ?? []);
  return { plan, config, hostname, mounts };
}

/** Lines for `ip -batch -` in the host's namespace: the bridge when missing, then the veth pairs. */
export function hostBatch(plan: NetworkPlan, pid: number, makeBridge: boolean): string[] {
  const lines: string[] = [];
  if (makeBridge) {
    lines.push(`link add name ${plan.bridge} type bridge`);
    if (plan.gateway && plan.subnet) lines.push(`addr add ${formatIp(plan.gateway)}/${plan.subnet.prefix} dev ${plan.bridge}`);
    lines.push(`link set dev ${plan.bridge} up`);
  }
  for (const itf of plan.interfaces) {
    const mtu = itf.mtu !== undefined ? ` mtu ${itf.mtu}` : "";
    // The container end is made directly in the init's namespace under its final name: no rename,
    // and no clash with a host interface of the same name.
    lines.push(`link add name ${itf.hostName}${mtu} type veth peer name ${itf.name}${mtu}${itf.mac ? ` address ${itf.mac}` : ""} netns ${pid}`);
    lines.push(`link set dev ${itf.hostName} master ${plan.bridge}`);
    lines.push(`link set dev ${itf.hostName} up`);
  }
  return lines;
}

/** Lines for `ip -batch -` inside the container's namespace; `addresses` per interface, allocated included. */
export function containerBatch(plan: NetworkPlan, addresses: readonly Cidr[][]): string[] {
  const lines: string[] = [];
  plan.interfaces.forEach((itf, i) => {
    // nodad: the address is usable at once (the container's process may start before DAD would end);
    // the allocator and the config checks are what keep addresses unique on the bridge.
    for (const a of addresses[i]) lines.push(`addr add ${formatCidr(a)} dev ${itf.name}${a.family === 6 ? " nodad" : ""}`);
    lines.push(`link set dev ${itf.name} up`);
  });
  const all = addresses.flat();
  for (const r of plan.routes) lines.push(`route add ${formatCidr(r.destination)}${r.gateway ? ` via ${formatIp(r.gateway)}` : ` dev ${plan.interfaces[0].name}`}`);
  const gw = plan.gateway;
  const hasDefault = plan.routes.some((r) => r.destination.prefix === 0 && gw && r.destination.family === gw.family);
  if (gw && !hasDefault && all.some((a) => a.family === gw.family)) {
    lines.push(`route add ${gw.family === 4 ? "0.0.0.0/0" : "::/0"} via ${formatIp(gw)}`);
  }
  return lines;
}
