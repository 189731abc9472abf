/**
 * The thin kernel-touching part: iproute2's `ip`, one `ip -batch -` per namespace. tsrun runs with no
 * PATH (managers give it an empty environment), so ip and nsenter are found by absolute path, once per
 * process. Run synchronously (init/spawn.ts): the container waits for us meanwhile, nothing else does.
 */
import { accessSync, constants } from "node:fs";
import { HostError, NetworkError } from "../errors.js";
import { runSync } from "../init/spawn.js";

const cache = new Map<string, string>();

function findTool(name: string): string {
  const hit = cache.get(name);
  if (hit) return hit;
  for (const dir of ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      cache.set(name, p);
      return p;
    } catch {
      // try the next place
    }
  }
  throw new HostError(`${name} not found in /usr/sbin, /sbin, /usr/bin or /bin (tsrun.network needs iproute2 and util-linux)`);
}

/** argv of `ip <args>`, inside the network namespace of process `ns`, or of the namespace file at path `ns`,
 *  when given (nsenter execs ip: one process). */
function argv(args: string[], ns?: number | string): [string, string[]] {
  const ip = findTool("ip");
  if (ns === undefined) return [ip, args];
  return [findTool("nsenter"), [`--net=${typeof ns === "number" ? `/proc/${ns}/ns/net` : ns}`, "--", ip, ...args]];
}

export interface BatchResult {
  ok: boolean;
  stderr: string;
  stdout: string;
}

/** Run `ip [-force] -batch -` with `lines` on stdin. Never throws for ip's own failures: see `ok`. */
export function ipBatchSync(lines: readonly string[], opts: { pid?: number; netns?: string; force?: boolean } = {}): BatchResult {
  const [file, args] = argv([...(opts.force ? ["-force"] : []), "-batch", "-"], opts.netns ?? opts.pid);
  const r = runSync(file, args, { input: lines.join("\n") + "\n", stdout: true });
  return { ok: r.status === 0, stderr: r.error ? String(r.error.message) : r.stderr, stdout: r.stdout };
}

/** The same, for the async network set-up. */
export async function ipBatch(lines: readonly string[], opts: { pid?: number; netns?: string; force?: boolean } = {}): Promise<BatchResult> {
  return ipBatchSync(lines, opts);
}

/** The kind of a link ("bridge", "veth", "" for a plain device), or undefined when there is none. */
export async function linkKind(name: string): Promise<string | undefined> {
  const [file, args] = argv(["-j", "-d", "link", "show", "dev", name]);
  const r = runSync(file, args, { stdout: true });
  if (r.status !== 0) {
    if (/does not exist/.test(r.stderr)) return undefined;
    throw new NetworkError(`ip link show ${name}: ${(r.error?.message ?? r.stderr).trim()}`);
  }
  const links = JSON.parse(r.stdout) as { linkinfo?: { info_kind?: string } }[];
  return links[0]?.linkinfo?.info_kind ?? "";
}

/** Names of the links in this network namespace, or in the one at `netns` (`ip -o link show`; a veth's
 *  "@peer" suffix dropped). */
export function linkNames(netns?: string): string[] {
  const [file, args] = argv(["-o", "link", "show"], netns);
  const r = runSync(file, args, { stdout: true });
  if (r.status !== 0) throw new NetworkError(`ip link show: ${(r.error?.message ?? r.stderr).trim()}`);
  return r.stdout
    .split("\n")
    .map((l) => l.split(": ")[1]?.split("@")[0])
    .filter((n): n is string => !!n);
}

/** `ip -j addr show` in this network namespace: each link's name, admin state and addresses. */
export function linkAddresses(): { ifname: string; flags?: string[]; addr_info?: { family: string; local: string; prefixlen: number; scope?: string; dynamic?: boolean }[] }[] {
  const [file, args] = argv(["-j", "addr", "show"]);
  const r = runSync(file, args, { stdout: true });
  if (r.status !== 0) throw new NetworkError(`ip addr show: ${(r.error?.message ?? r.stderr).trim()}`);
  return JSON.parse(r.stdout);
}

/** ip's error lines, without its "Command failed" echo, for messages. */
export function ipErrors(stderr: string): string[] {
  return stderr.split("\n").map((l) => l.trim()).filter((l) => l && !/^Command failed/.test(l));
}
