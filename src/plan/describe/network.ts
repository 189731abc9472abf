/**
 * The network steps of a dry run: what create does before the launch (leases, /etc files, bridge) and
 * at the setup sync point (veth pairs, addresses, routes). Pure; a leased address is not known before
 * create takes it, so it is named by its subnet.
 */
import { type Cidr, formatCidr, formatIp } from "../../network/addr.js";
import type { DryRunInputs } from "./inputs.js";

type Net = NonNullable<DryRunInputs["network"]>;
type Action = { action: string; fields: Record<string, unknown> };

const leased = (subnet: Cidr | undefined): string => `an address leased from ${subnet ? formatCidr(subnet) : "the subnet"}`;

/** Before the launch, in create's order: leases, the /etc files, the bridge. */
export function networkPrepare(net: Net, stateDir: string): Action[] {
  const { plan } = net;
  const out: Action[] = [];
  for (const itf of plan.interfaces) {
    const what = itf.allocate ? leased(plan.subnet) : itf.addresses.map(formatCidr).join(", ");
    out.push({ action: `lease ${what} for ${itf.name} on bridge ${plan.bridge}`, fields: { interface: itf.name, addresses: itf.addresses.map(formatCidr), allocate: itf.allocate } });
  }
  for (const f of net.etcFiles) {
    const file = `${stateDir}/${f.name}`;
    out.push({ action: `write ${file} (bind-mounted on ${f.destination})`, fields: { file, destination: f.destination } });
  }
  if (net.makeBridge) {
    const addr = plan.gateway && plan.subnet ? ` with address ${formatIp(plan.gateway)}/${plan.subnet.prefix}` : "";
    out.push({ action: `create bridge ${plan.bridge}${addr} and bring it up`, fields: { bridge: plan.bridge, gateway: plan.gateway && formatIp(plan.gateway) } });
  } else {
    out.push({ action: `use the existing bridge ${plan.bridge}`, fields: { bridge: plan.bridge } });
  }
  return out;
}

/** At the setup sync point: the veth pairs from the host, then addresses, links and routes inside. */
export function networkAttach(net: Net): Action[] {
  const { plan } = net;
  const out: Action[] = [];
  for (const itf of plan.interfaces) {
    const opts = [itf.mtu !== undefined ? `mtu ${itf.mtu}` : "", itf.mac ? `mac ${itf.mac}` : ""].filter(Boolean).join(", ");
    out.push({
      action: `create veth pair ${itf.hostName} (host) / ${itf.name} (container${opts ? `, ${opts}` : ""}), attach ${itf.hostName} to ${plan.bridge} and bring it up`,
      fields: { host: itf.hostName, container: itf.name, bridge: plan.bridge, mtu: itf.mtu, mac: itf.mac },
    });
  }
  const families = new Set<number>();
  for (const itf of plan.interfaces) {
    if (itf.allocate) {
      if (plan.subnet) families.add(plan.subnet.family);
      out.push({ action: `add ${leased(plan.subnet)} to ${itf.name}`, fields: { interface: itf.name, allocate: true } });
    }
    for (const a of itf.addresses) {
      families.add(a.family);
      out.push({ action: `add address ${formatCidr(a)} to ${itf.name}`, fields: { interface: itf.name, address: formatCidr(a) } });
    }
    out.push({ action: `bring ${itf.name} up`, fields: { interface: itf.name } });
  }
  for (const r of plan.routes) {
    const via = r.gateway ? `via ${formatIp(r.gateway)}` : `dev ${plan.interfaces[0].name}`;
    out.push({ action: `add route ${formatCidr(r.destination)} ${via}`, fields: { destination: formatCidr(r.destination), gateway: r.gateway && formatIp(r.gateway) } });
  }
  const gw = plan.gateway;
  const hasDefault = plan.routes.some((r) => r.destination.prefix === 0 && gw && r.destination.family === gw.family);
  if (gw && !hasDefault && families.has(gw.family)) {
    const dest = gw.family === 4 ? "0.0.0.0/0" : "::/0";
    out.push({ action: `add default route ${dest} via ${formatIp(gw)}`, fields: { destination: dest, gateway: formatIp(gw) } });
  }
  return out;
}
