/**
 * /etc/resolv.conf, /etc/hosts and /etc/hostname of a networked container: their text, and the bind
 * mounts that put them in place from the container's state directory (never written into the bundle's
 * rootfs or a layer). Pure.
 */
import { posix } from "node:path";
import { type ConfigMount, SOURCE_MADE_AT_CREATE } from "../fs/rootfs-plan.js";
import type { TsrunNetwork } from "../spec/types.js";
import { type Cidr, formatIp } from "./addr.js";

export interface EtcFile {
  /** File name in the state directory. */
  name: string;
  /** Path inside the container. */
  destination: string;
  text: string;
}

export function resolvConf(dns: NonNullable<TsrunNetwork["dns"]>): string {
  const lines: string[] = [];
  if (dns.search?.length) lines.push(`search ${dns.search.join(" ")}`);
  for (const ns of dns.nameservers ?? []) lines.push(`nameserver ${ns}`);
  if (dns.options?.length) lines.push(`options ${dns.options.join(" ")}`);
  return lines.map((l) => l + "\n").join("");
}

/** localhost lines, the container's own addresses under its hostname, then the config's entries. */
export function hostsFile(hostname: string | undefined, own: readonly Cidr[], hosts: TsrunNetwork["hosts"]): string {
  const lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"];
  if (hostname) for (const a of own) lines.push(`${formatIp(a)}\t${hostname}`);
  for (const h of hosts ?? []) lines.push(`${h.ip}\t${h.names.join(" ")}`);
  return lines.map((l) => l + "\n").join("");
}

/** The files to write: hosts always, resolv.conf when the config has dns, hostname when it has one. */
export function etcFiles(net: TsrunNetwork, hostname: string | undefined, own: readonly Cidr[]): EtcFile[] {
  const files: EtcFile[] = [{ name: "hosts", destination: "/etc/hosts", text: hostsFile(hostname, own, net.hosts) }];
  if (net.dns) files.push({ name: "resolv.conf", destination: "/etc/resolv.conf", text: resolvConf(net.dns) });
  if (hostname) files.push({ name: "hostname", destination: "/etc/hostname", text: hostname + "\n" });
  return files;
}

/**
 * Bind mounts of the written files, after the config's own mounts; a destination the config mounts
 * itself is left to the config (a manager's own /etc/hosts wins).
 */
export function etcMounts(files: readonly EtcFile[], sources: (f: EtcFile) => string, configMounts: readonly ConfigMount[]): ConfigMount[] {
  const taken = new Set(configMounts.map((m) => posix.normalize(posix.join("/", m.destination))));
  return files
    .filter((f) => !taken.has(f.destination))
    // Written by create once the addresses are leased, after the plan is made.
    .map((f) => ({ destination: f.destination, type: "bind", source: sources(f), options: ["bind", "nosuid", "nodev", "noexec"], [SOURCE_MADE_AT_CREATE]: "file" as const }));
}
