/**
 * The thin kernel-touching part: iproute2's `ip` run through execa, one `ip -batch -` per namespace.
 * tsrun runs with no PATH (managers give it an empty environment), so ip and nsenter are found by
 * absolute path, once per process.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { HostError, NetworkError } from "../errors.js";

/**
 * execa, loaded on first use: importing it costs ~7.7 ms under Bun (measured with hyperfine against an
 * empty program), which every create and delete would pay even without a network.
 */
async function execa(file: string, args: string[], opts: Record<string, unknown>) {
  const mod = await import("execa");
  return mod.execa(file, args, opts);
}

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

/** argv of `ip <args>`, inside the network namespace of `pid` when given (nsenter execs ip: one process). */
function argv(args: string[], pid?: number): [string, string[]] {
  const ip = findTool("ip");
  if (pid === undefined) return [ip, args];
  return [findTool("nsenter"), [`--net=/proc/${pid}/ns/net`, "--", ip, ...args]];
}

export interface BatchResult {
  ok: boolean;
  stderr: string;
  stdout: string;
}

const OPTS = { reject: false, env: {}, extendEnv: false, stripFinalNewline: false } as const;

/** Run `ip [-force] -batch -` with `lines` on stdin. Never throws for ip's own failures: see `ok`. */
export async function ipBatch(lines: readonly string[], opts: { pid?: number; force?: boolean } = {}): Promise<BatchResult> {
  const [file, args] = argv([...(opts.force ? ["-force"] : []), "-batch", "-"], opts.pid);
  const r = await execa(file, args, { ...OPTS, input: lines.join("\n") + "\n" });
  return { ok: r.exitCode === 0, stderr: String(r.stderr), stdout: String(r.stdout) };
}

/** The same, synchronously, for delete (which is synchronous, so it cannot await execa's import). */
export function ipBatchSync(lines: readonly string[], opts: { force?: boolean } = {}): BatchResult {
  const [file, args] = argv([...(opts.force ? ["-force"] : []), "-batch", "-"]);
  const r = spawnSync(file, args, { env: {}, input: lines.join("\n") + "\n", encoding: "utf8" });
  return { ok: r.status === 0, stderr: r.stderr ?? String(r.error ?? ""), stdout: r.stdout ?? "" };
}

/** The kind of a link ("bridge", "veth", "" for a plain device), or undefined when there is none. */
export async function linkKind(name: string): Promise<string | undefined> {
  const [file, args] = argv(["-j", "-d", "link", "show", "dev", name]);
  const r = await execa(file, args, OPTS);
  if (r.exitCode !== 0) {
    if (/does not exist/.test(String(r.stderr))) return undefined;
    throw new NetworkError(`ip link show ${name}: ${String(r.stderr).trim()}`);
  }
  const links = JSON.parse(String(r.stdout)) as { linkinfo?: { info_kind?: string } }[];
  return links[0]?.linkinfo?.info_kind ?? "";
}

/** ip's error lines, without its "Command failed" echo, for messages. */
export function ipErrors(stderr: string): string[] {
  return stderr.split("\n").map((l) => l.trim()).filter((l) => l && !/^Command failed/.test(l));
}
