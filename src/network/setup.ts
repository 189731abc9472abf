/**
 * Bridge networking of one container, in three moves:
 *   prepare (before launch): check the config, lease addresses, write the /etc files, make the bridge;
 *   attach (in onSync, the init waiting in its new netns): one `ip -batch` on the host for the veth
 *     pairs, one inside the container's namespace for addresses, links and routes;
 *   teardown (delete): remove the host ends, release the leases, remove the bridge if asked and unused.
 * Each move that makes something pushes its undo, so a failed create leaves nothing.
 */
import { writeFileSync } from "node:fs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, HostError, NetworkError } from "../errors.js";
import type { Cidr } from "./addr.js";
import { etcFiles } from "./files.js";
import { ipBatch, ipBatchSync, ipErrors, linkKind, linkNames } from "./ip.js";
import { Ipam, releaseLeasesOf } from "./ipam.js";
import { type ContainerNetworkPlan, type NetworkPlan, containerBatch, hostBatch, hostVethName } from "./plan.js";

/** What delete needs to take the network down again (kept in state.json, opaque to the store). */
export interface NetworkRecord {
  bridge: string;
  hostVeths: string[];
  leases: string[];
  removeBridge: boolean;
}

export interface PreparedNetwork {
  plan: NetworkPlan;
  /** Addresses of each interface, fixed and allocated. */
  addresses: Cidr[][];
  record: NetworkRecord;
}

export interface NetworkContext {
  id: string;
  /** The state root (leases live in <root>/ipam/) and the container's state directory. */
  root: string;
  stateDir: string;
  /** Where each step that makes something records how to take it back (create's undo stack). */
  undo: { push(what: string, fn: () => void | Promise<void>): void };
  debug: (msg: string) => void;
}

function ipam(root: string, bridge: string): Ipam {
  // A container exists while its state directory does (a create in progress has made it already).
  return new Ipam(root, bridge, (holder) => existsSync(join(root, holder)));
}

/** Lease, write the /etc files, ensure the bridge, for a network planned by planContainerNetwork. */
export async function prepareNetwork(net: ContainerNetworkPlan, ctx: NetworkContext): Promise<PreparedNetwork> {
  const { plan } = net;
  // A name taken by something else is refused before anything is made.
  const kind = await linkKind(plan.bridge);
  if (kind !== undefined && kind !== "bridge") {
    throw new ConfigError("/tsrun/network/bridge", `"${plan.bridge}" exists and is ${kind ? `a ${kind} device` : "a plain device"}, not a bridge`);
  }

  const lease = ipam(ctx.root, plan.bridge);
  const fixed = plan.interfaces.flatMap((itf) => itf.addresses.map((ip, j) => ({ ip, field: `${itf.field}/addresses/${j}` })));
  const got = lease.lease(ctx.id, { fixed, allocate: plan.interfaces.filter((i) => i.allocate).length, subnet: plan.subnet, gateway: plan.gateway });
  ctx.undo.push("release address leases", () => lease.release(ctx.id, got.leases));
  let next = 0;
  const addresses = plan.interfaces.map((itf) => (itf.allocate ? [{ ...got.allocated[next++], prefix: plan.subnet!.prefix }] : itf.addresses));

  // The files the plan's mounts bind (planContainerNetwork named them), now with the addresses in them.
  for (const f of etcFiles(net.config, net.hostname, addresses.flat())) writeFileSync(join(ctx.stateDir, f.name), f.text, { mode: 0o644 });

  if (kind === undefined) await makeBridge(plan, ctx);
  return { plan, addresses, record: { bridge: plan.bridge, hostVeths: plan.interfaces.map((i) => i.hostName), leases: got.leases, removeBridge: plan.removeBridge } };
}

/**
 * Make the bridge with the gateway address. Two creates may race here: "File exists" from either
 * command means the other made it first, which is success once the name is seen to be a bridge.
 */
async function makeBridge(plan: NetworkPlan, ctx: NetworkContext): Promise<void> {
  const r = await ipBatch(hostBatch({ ...plan, interfaces: [] }, 0, true), { force: true });
  const errors = ipErrors(r.stderr).filter((l) => !/File exists|Address already assigned/.test(l));
  if (errors.length) throw new NetworkError(`bridge ${plan.bridge}: ${errors.join("; ")}`);
  const kind = await linkKind(plan.bridge);
  if (kind !== "bridge") throw new NetworkError(`bridge ${plan.bridge}: ${kind === undefined ? "vanished after it was made" : `made concurrently as a ${kind || "plain"} device`}`);
  ctx.debug(`network: made bridge ${plan.bridge}`);
  // A create that fails takes its new bridge away again, unless another container uses it by then.
  ctx.undo.push(`remove bridge ${plan.bridge} made by this create`, () => removeBridgeIfUnused(ctx.root, plan.bridge, ctx.id));
}

/** In onSync: the veth pairs from the host side, then the container side, one ip process each. */
export async function attachNetwork(net: PreparedNetwork, pid: number, ctx: NetworkContext): Promise<void> {
  // Pushed first: a batch that fails half-way may have made some of the pairs.
  ctx.undo.push("remove veth host ends", () => deleteLinks(net.record.hostVeths));
  const host = await ipBatch(hostBatch(net.plan, pid, false));
  if (!host.ok) throw new NetworkError(`veth for ${ctx.id} on bridge ${net.plan.bridge}: ${ipErrors(host.stderr).join("; ")}`);
  const inside = await ipBatch(containerBatch(net.plan, net.addresses), { pid });
  if (!inside.ok) throw new NetworkError(`network inside container ${ctx.id}: ${ipErrors(inside.stderr).join("; ")}`);
}

/** Delete links by name; a link already gone (its pair went with the namespace) is not an error, nor
 *  one that the kernel's asynchronous namespace teardown takes away between ip's lookup and its delete
 *  ("RTNETLINK answers: No such device"): otherwise a delete that met that race could never be retried. */
function deleteLinks(names: readonly string[]): void {
  if (!names.length) return;
  const r = ipBatchSync(names.map((n) => `link del dev ${n}`), { force: true });
  const errors = ipErrors(r.stderr).filter((l) => !/Cannot find device|No such device/.test(l));
  if (errors.length) throw new NetworkError(`removing ${names.join(", ")}: ${errors.join("; ")}`);
}

function removeBridgeIfUnused(root: string, bridge: string, id: string): void {
  const lease = ipam(root, bridge);
  // Under the lease lock: a create leases before it looks for the bridge, so it is counted here.
  lease.locked(() => {
    if (lease.users(id).length === 0) deleteLinks([bridge]);
  });
}

/** Whether the record's network field is a NetworkRecord (the store keeps it without looking). */
function isNetworkRecord(x: unknown): x is NetworkRecord {
  const r = x as Partial<NetworkRecord> | null;
  const strings = (a: unknown) => Array.isArray(a) && a.every((v) => typeof v === "string");
  return typeof r === "object" && r !== null && typeof r.bridge === "string" && strings(r.hostVeths) && strings(r.leases) && typeof r.removeBridge === "boolean";
}

/**
 * delete: the init is dead, but its namespace (and so the veth pair) is freed by the kernel later,
 * asynchronously: the host ends are removed explicitly so nothing is left when delete returns.
 * `recorded` is what prepareNetwork recorded; one that is not (a hand-edited state.json) is cleaned
 * up as a lost record is, from the id.
 */
export function teardownNetwork(recorded: unknown, root: string, id: string): void {
  if (!isNetworkRecord(recorded)) return teardownNetworkOf(root, id);
  const rec = recorded;
  deleteLinks(rec.hostVeths);
  ipam(root, rec.bridge).release(id, rec.leases);
  if (rec.removeBridge) removeBridgeIfUnused(root, rec.bridge, id);
}

/** How many interfaces' host ends a delete without a record looks for (their names derive from the id). */
const MAX_LOST_INTERFACES = 256;

/**
 * delete --force of a container whose record is lost (corrupt state.json): the host veth ends are found by
 * the names derived from the id and removed, as teardownNetwork does, since the kernel frees them only
 * later with the namespace, and a create of the same id would meet them; the id's leases are released. A
 * bridge it may have made is left: whether it did is in the record.
 */
export function teardownNetworkOf(root: string, id: string): void {
  const ours = new Set(Array.from({ length: MAX_LOST_INTERFACES }, (_, i) => hostVethName(id, i)));
  let links: string[] = [];
  try {
    links = linkNames();
  } catch (e) {
    // Without iproute2 tsrun never made a veth: nothing to look for.
    if (!(e instanceof HostError)) throw e;
  }
  deleteLinks(links.filter((n) => ours.has(n)));
  releaseLeasesOf(root, id);
}
