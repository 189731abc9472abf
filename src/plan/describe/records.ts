/**
 * One launch plan record as a readable action: what tsrun-init will do, with its values decoded
 * (flag names, capability names, rlimit names). Pure: the record's ints and strings are all it reads.
 */
import { MS } from "../../fs/mount-flags.js";
import { Op, PR_SET_DUMPABLE, PR_SET_KEEPCAPS, type PlanRecord } from "../../launch/ops.js";
import { capNames, cpuList, mountAttrNames, mountFlagNames, namespaceNames, nodeType, octal, propagationName, rlimitName, rlimitValue } from "./decode.js";

export interface RecordAction {
  /** Short heading the action goes under ("mounts", "capabilities", ...). */
  section: string;
  action: string;
  /** The decoded values, for the JSON form. */
  fields: Record<string, unknown>;
}

const MKDIR_KIND: Record<number, string> = { 1: "directory", 2: "file", 3: "skipped when missing", 4: "directory (its mode kept)" };
const SYMLINK_EXISTING = ["fail if it exists", "keep an existing one", "replace an existing one"];

/** The size of a SECCOMP record's BPF program, in instructions (the ints after flags and slot). */
export function seccompProgramSize(r: PlanRecord): number {
  return Math.max(0, (r.ints?.length ?? 0) - 2) + (r.rawInts ? r.rawInts.length / 8 : 0);
}

const num = (v: number | bigint | undefined): number => Number(v ?? 0);

export function describeRecord(r: PlanRecord): RecordAction {
  const i = r.ints ?? [];
  const s = r.strs ?? [];
  const at = (section: string, action: string, fields: Record<string, unknown> = {}): RecordAction => ({ section, action, fields });
  switch (r.op) {
    case Op.SETNS:
      return at("namespaces", `join the ${namespaceNames(num(i[0])).join(",")} namespace at ${s[0]}`, { namespace: namespaceNames(num(i[0]))[0], path: s[0] });
    case Op.JOIN_NAMESPACES: {
      const joins = s.map((path, k) => ({ namespace: namespaceNames(num(i[k]))[0], path }));
      return at("namespaces", `join namespaces ${joins.map((j) => `${j.namespace}=${j.path}`).join(" ")}`, { namespaces: joins });
    }
    case Op.CLONE: {
      const ns = namespaceNames(num(i[0]));
      const into = s[0] ? `, started in cgroup ${s[0]}` : "";
      const wait = num(i[1]) ? "; stage 0 waits for it and exits with its status" : "; stage 0 exits";
      return at("namespaces", `clone the container init into new namespaces: ${ns.length ? ns.join(", ") : "none"}${into}${wait}`, {
        namespaces: ns,
        cgroup: s[0] || undefined,
        foreground: num(i[1]) === 1,
      });
    }
    case Op.UNSHARE: {
      const ns = namespaceNames(num(i[0]));
      return at("namespaces", `unshare new namespaces: ${ns.join(", ")}`, { namespaces: ns });
    }
    case Op.SETRESID:
      return at("namespaces", `become uid ${i[0]} gid ${i[1]} (root of the new user namespace)`, { uid: num(i[0]), gid: num(i[1]) });
    case Op.SYNC:
      return at("sync", `wait at sync point "${s[0]}" until tsrun says go`, { tag: s[0] });
    case Op.WRITE_FILE:
      if (s[0]?.endsWith("/tasks")) return at("cgroup", `join cgroup: write "${s[1]}" to ${s[0]}`, { path: s[0], value: s[1] });
      return at("files", `write ${JSON.stringify(s[1])} to ${s[0]}`, { path: s[0], value: s[1] });
    case Op.SETHOSTNAME:
      return at("hostname", `set the hostname to "${s[0]}"`, { hostname: s[0] });
    case Op.SETDOMAINNAME:
      return at("hostname", `set the domain name to "${s[0]}"`, { domainname: s[0] });
    case Op.MOUNT:
      return describeMount(i, s);
    case Op.MKNOD: {
      const mode = num(i[0]);
      const type = nodeType(mode);
      const section = type === "fifo" ? "exec fifo" : "devices";
      const dev = type === "fifo" ? "" : ` ${i[1]}:${i[2]}`;
      return at(section, `mknod ${s[0]} (${type}${dev}, mode ${octal(mode)}, owner ${i[3]}:${i[4]})`, {
        path: s[0], type, major: num(i[1]), minor: num(i[2]), mode: octal(mode), uid: num(i[3]), gid: num(i[4]),
      });
    }
    case Op.SYMLINK:
      return at("devices", `symlink ${s[1]} -> ${s[0]} (${SYMLINK_EXISTING[num(i[0])] ?? i[0]})`, { link: s[1], target: s[0] });
    case Op.PIVOT_ROOT:
      return at("mounts", `pivot_root into ${s[0]} and detach the old root`, { rootfs: s[0] });
    case Op.MOVE_ROOT:
      return at("mounts", `move ${s[0]} onto / and chroot into it (--no-pivot)`, { rootfs: s[0] });
    case Op.CHROOT:
      return at("mounts", `chroot into ${s[0]} (no mount namespace of its own)`, { rootfs: s[0] });
    case Op.DETACH_PSEUDO_FS:
      return at("mounts", `detach every full ${s.slice(1).join("/")} mount outside ${s[0]}`, { rootfs: s[0], fstypes: s.slice(1) });
    case Op.BIND_SOURCES:
      return at("mounts", `open the bind mount sources as host root, in the container's mount namespace (idmapped ones cloned and idmapped): ${s.join(", ")}`, { paths: s });
    case Op.IDMAP_SOURCE:
      if (num(i[1]) === 2) {
        return at("mounts", `make bind source ${num(i[0])} (${s[2]}) an overlay of idmapped layers (uid_map ${s[0].trim().replace(/\n/g, "; ")}, gid_map ${s[1].trim().replace(/\n/g, "; ")}): lower ${s.slice(5).join(":")}, upper ${s[3]}, work ${s[4]}`, {
          sourceIndex: num(i[0]), uidMap: s[0], gidMap: s[1], upper: s[3], work: s[4], lowers: s.slice(5),
        });
      }
      return at("mounts", `idmap bind source ${num(i[0])} (${s[2]}): clone it${num(i[1]) ? " recursively" : ""}, idmap it${num(i[2]) ? " recursively" : ""} with uid_map ${s[0].trim().replace(/\n/g, "; ")} and gid_map ${s[1].trim().replace(/\n/g, "; ")}`, {
        sourceIndex: num(i[0]), cloneRecursive: num(i[1]) === 1, idmapRecursive: num(i[2]) === 1, uidMap: s[0], gidMap: s[1], mount: s[2],
      });
    case Op.IDMAP_MOUNT:
      return at("mounts", `attach idmapped bind source ${num(i[1])} on ${s[0]} (mount point: ${MKDIR_KIND[num(i[0])] ?? "none"})`, { target: s[0], sourceIndex: num(i[1]) });
    case Op.OVERLAY:
      return at("mounts", `mount an overlay on ${s[0]}: lower ${s.slice(3).join(":")}, upper ${s[1]}, work ${s[2]}${num(i[0]) ? " (userxattr)" : ""}`, {
        target: s[0], upper: s[1], work: s[2], lowers: s.slice(3), userxattr: num(i[0]) === 1,
      });
    case Op.MOUNT_SETATTR: {
      const set = mountAttrNames(num(i[0]));
      return at("mounts", `set mount attributes ${set.join(",") || "(none)"}${num(i[3]) ? " recursively" : ""} on ${s[0]}`, { target: s[0], set, clear: mountAttrNames(num(i[1])), recursive: num(i[3]) === 1 });
    }
    case Op.COPY_UP:
      return at("mounts", num(i[0]) ? `copy the kept contents into the new tmpfs at ${s[0]} (tmpcopyup)` : `keep the directory ${s[0]} to copy into the tmpfs (tmpcopyup)`, { target: s[0], phase: num(i[0]) });
    case Op.MASK:
      return at("mounts", `mask ${s[0]}: an empty read-only ${s[2]} on a directory, ${s[5]} on anything else (skipped when missing)`, { path: s[0] });
    case Op.OPEN_FIFO:
      return at("exec fifo", `open the exec fifo ${s[0]}`, { path: s[0] });
    case Op.WAIT_FIFO:
      return at("exec fifo", "wait until `tsrun start` opens the exec fifo", {});
    case Op.READY:
      return at("exec fifo", "tell tsrun the container is created (ready)", {});
    case Op.STARTED:
      return at("exec fifo", "tell `tsrun start` the process is about to be executed", {});
    case Op.RLIMIT:
      return at("rlimits", `set ${rlimitName(num(i[0]))} soft ${rlimitValue(i[1] ?? 0)} hard ${rlimitValue(i[2] ?? 0)}`, {
        rlimit: rlimitName(num(i[0])), soft: rlimitValue(i[1] ?? 0), hard: rlimitValue(i[2] ?? 0),
      });
    case Op.NO_NEW_PRIVS:
      return at("process", "set no_new_privs", {});
    case Op.CAP_BOUNDING: {
      const keep = capNames(i[0] ?? 0);
      return at("capabilities", `bounding set: ${keep.join(", ") || "(none)"} (every other capability up to ${i[1]} dropped)`, { set: "bounding", capabilities: keep });
    }
    case Op.PRCTL:
      if (num(i[0]) === PR_SET_KEEPCAPS) {
        return at("capabilities", `${num(i[1]) ? "keep" : "stop keeping"} capabilities across the uid change (PR_SET_KEEPCAPS ${i[1]})`, { on: num(i[1]) === 1 });
      }
      if (num(i[0]) === PR_SET_DUMPABLE) {
        return at("id maps", `${num(i[1]) ? "let the caller open" : "close again"} the init's /proc files for its id maps (PR_SET_DUMPABLE ${i[1]})`, { dumpable: num(i[1]) === 1 });
      }
      return at("process", `prctl option ${i[0]} = ${i[1]}`, {});
    case Op.CAPSET: {
      const [effective, permitted, inheritable] = [capNames(i[0] ?? 0), capNames(i[1] ?? 0), capNames(i[2] ?? 0)];
      const show = (l: string[]) => l.join(", ") || "(none)";
      return at("capabilities", `effective: ${show(effective)}; permitted: ${show(permitted)}; inheritable: ${show(inheritable)}`, { effective, permitted, inheritable });
    }
    case Op.AMBIENT: {
      const caps = capNames(i[0] ?? 0);
      return at("capabilities", `ambient: ${caps.join(", ")}`, { set: "ambient", capabilities: caps });
    }
    case Op.SETUSER: {
      const groups = i.slice(3).map(num);
      return at("process", `become uid ${i[0]} gid ${i[1]}${num(i[2]) ? `, supplementary groups ${groups.length ? groups.join(",") : "none"}` : ""}`, {
        uid: num(i[0]), gid: num(i[1]), additionalGids: groups,
      });
    }
    case Op.UMASK:
      return at("process", `set umask ${octal(num(i[0])).padStart(4, "0")}`, { umask: octal(num(i[0])).padStart(4, "0") });
    case Op.CHDIR:
      return at("process", `change directory to ${s[0]} (resolved inside the root)`, { path: s[0] });
    case Op.CHDIR_RETRY:
      return at("process", `enter ${s[0]} as the process's user if root could not`, { path: s[0] });
    case Op.CLOEXEC_FROM:
      return at("process", `mark every fd from ${i[0]} close-on-exec`, { from: num(i[0]) });
    case Op.FIND_EXEC:
      return at("process", `look up "${s[1]}" in PATH ${s[0]}`, { file: s[1], path: s[0] });
    case Op.EXEC: {
      const argv = s.slice(0, num(i[0]));
      const env = s.slice(num(i[0]));
      return at("process", `execute ${JSON.stringify(argv)} with ${env.length} environment variable(s): ${env.map((e) => e.split("=")[0]).join(", ")}`, { args: argv, env });
    }
    case Op.LOOPBACK_UP:
      return at("network", "bring up lo in the new network namespace", {});
    case Op.SETSID:
      return at("process", "start a new session (setsid)", {});
    case Op.HOOK: {
      const argc = num(i[1]);
      const args = s.slice(2, 2 + argc);
      const timeout = num(i[0]) ? `, timeout ${i[0]} s` : "";
      return at("hooks", `run hook ${s[0]}: ${s[1]} ${JSON.stringify(args)}${timeout}`, { hook: s[0], path: s[1], args, env: s.slice(2 + argc), timeout: num(i[0]) || undefined });
    }
    case Op.PERSONALITY:
      return at("process", `set personality 0x${num(i[0]).toString(16)} (${s[0]})`, { persona: num(i[0]) });
    case Op.SCHED_SETATTR:
      return at("process", `set scheduler policy ${i[0]} flags ${i[1]} nice ${i[2]} priority ${i[3]} runtime ${i[4]} deadline ${i[5]} period ${i[6]} (${s[0]})`, {
        policy: num(i[0]), nice: num(i[2]), priority: num(i[3]),
      });
    case Op.IOPRIO_SET:
      return at("process", `set I/O priority class ${num(i[0]) >> 13} level ${num(i[0]) & 0x1fff} (${s[0]})`, { class: num(i[0]) >> 13, level: num(i[0]) & 0x1fff });
    case Op.CPU_AFFINITY:
      return at("process", `set CPU affinity ${cpuList(i)} (${s[0]})`, { cpus: cpuList(i) });
    case Op.SESSION_KEYRING:
      return at("process", `join a new session keyring "${s[0]}"`, { name: s[0] });
    case Op.PROCFS_OPEN:
      return at("procfs", "open the procfs handle every /proc write goes through (a private procfs, else the caller's /proc)");
    case Op.PROCFS_WRITE: {
      const section = s[0]!.startsWith("sys/") ? "sysctl" : s[0] === "self/timens_offsets" ? "namespaces" : "process";
      return at(section, `write ${JSON.stringify(s[1])} to /proc/${s[0]} through the procfs handle (${s[2]})`, { path: `/proc/${s[0]}`, value: s[1], field: s[2] });
    }
    case Op.PROCFS_CLOSE:
      return at("procfs", "close the procfs handle");
    case Op.FIFO_CHECK:
      return at("exec fifo", "check that /proc/self/fd/<exec fifo> in the container leads to the exec fifo");
    case Op.SECCOMP: {
      const size = seccompProgramSize(r);
      const listener = num(i[1]) >= 0 ? "; the listener gets its notify fd" : "";
      return at("seccomp", `load the seccomp filter (${size} BPF instructions, flags 0x${num(i[0]).toString(16)})${listener}`, { instructions: size, flags: num(i[0]), listener: num(i[1]) >= 0 });
    }
    case Op.SECCOMP_LISTENER:
      return at("seccomp", `connect to the seccomp listener at ${s[0]}`, { path: s[0] });
    case Op.CONSOLE_SOCKET:
      return at("terminal", `connect to the console socket ${s[0]}`, { path: s[0] });
    case Op.PIDFD_SOCKET:
      return at("pidfd", `connect to the pidfd socket ${s[0]}`, { path: s[0] });
    case Op.PIDFD_SEND:
      return at("pidfd", `send a pidfd of this process to the pidfd socket ("${s[0]}")`, { payload: s[0] });
    case Op.CONSOLE_PAIR:
      return at("terminal", "make a socket pair to receive the pty master and relay this terminal", {});
    case Op.PTY: {
      const size = num(i[0]) && num(i[1]) ? `, size ${i[0]}x${i[1]}` : "";
      return at("terminal", `open a pty from ${s[0]}${size}, owner uid ${i[2]}${num(i[3]) ? ", bound on /dev/console" : ""}; send its master`, { rows: num(i[0]), cols: num(i[1]), uid: num(i[2]) });
    }
    default:
      return at("other", `op ${r.op} ints ${JSON.stringify(i.map(String))} strings ${JSON.stringify(s)}`, { op: r.op });
  }
}

function describeMount(i: readonly (number | bigint)[], s: readonly string[]): RecordAction {
  const flags = num(i[0]);
  const [source, target, fstype, data] = s;
  const mkdir = MKDIR_KIND[num(i[1])];
  const names = mountFlagNames(flags);
  const fields: Record<string, unknown> = { source: source || undefined, target, fstype: fstype || undefined, flags: names, data: data || undefined };
  if (mkdir) fields.mkdir = mkdir;
  if (i.length > 2) fields.sourceOpenedByStage0 = true;
  const extra = [data ? `data ${data}` : "", mkdir ? `target: ${mkdir}` : "", i.length > 2 ? "source opened by stage 0" : ""].filter(Boolean).join("; ");
  const tail = extra ? `; ${extra}` : "";
  const prop = propagationName(flags);
  if (!source && !fstype && prop && !(flags & (MS.REMOUNT | MS.BIND))) {
    return { section: "mounts", action: `make ${target} ${prop}`, fields: { ...fields, propagation: prop } };
  }
  if (flags & MS.REMOUNT) {
    const rest = names.filter((n) => n !== "remount" && n !== "bind");
    return { section: "mounts", action: `remount ${target} ${rest.join(",")}${flags & MS.BIND ? " (bind)" : ""}${tail}`, fields };
  }
  if (flags & MS.BIND) {
    return { section: "mounts", action: `bind ${source} on ${target} (${names.join(",")})${tail}`, fields };
  }
  return { section: "mounts", action: `mount ${fstype} ${source || "(no source)"} on ${target} (${names.join(",") || "no flags"})${tail}`, fields };
}
