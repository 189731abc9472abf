/**
 * The launch plan: the contract between the TypeScript planner and tsrun-init (C), defined once here.
 *
 * Binary layout (all integers little-endian):
 *   header : "TSRP" (4 bytes) | u32 version (=1) | u32 record count
 *   record : u32 op | u32 nint | u32 nstr | u32 paylen
 *            nint x u64            (signed values are two's complement)
 *            nstr x NUL-terminated strings
 *            paylen = 8*nint + sum(len(str)+1)
 *
 * tsrun-init executes the records in order. Every value is resolved here; the C side only checks
 * that each record has the int/string counts its table entry expects (-1 = variable, with the few
 * further checks of op_check in src/init/ops.c) and runs it. The C side never spells a number: the
 * build generates its op enum and count table from OPS (src/build/gen-init-contract.ts), and
 * `tsrun-init --check-plan` decodes a record of every op against it (src/build/check-init-contract.ts).
 * The C handler of op NAME is op_<name> (lower case).
 *
 * Records before CLONE run in the first process (stage 0, still in the caller's namespaces);
 * CLONE forks the container init, and every later record runs in that child.
 */
export const OPS = {
  /** ints: nstype · strs: path. open(path) + setns(fd, nstype). Stage 0 (before CLONE). */
  SETNS: { code: 1, ints: 1, strs: 1 },
  /** ints: flags, foreground · strs: cgroup. clone(flags|SIGCHLD), or with a cgroup v2 directory
   *  clone3(flags|CLONE_INTO_CGROUP) so the child starts in it. Stage 0 writes "pid <n>\n" on the sync fd, then
   *  exits 0 (foreground=0) or waits for the child and exits with its status, 128+N on signal N
   *  (foreground=1; after CONSOLE_PAIR it relays the caller's terminal meanwhile). Each side closes
   *  the other's end of CONSOLE_SOCKET/CONSOLE_PAIR. The child goes on with the next record. */
  CLONE: { code: 2, ints: 2, strs: 1 },
  /** strs: tag. Child writes "sync <tag>\n" and blocks until it reads "go\n" (anything else or EOF: exit). */
  SYNC: { code: 3, ints: 0, strs: 1 },
  /** ints: flags. unshare(flags). */
  UNSHARE: { code: 4, ints: 1, strs: 0 },
  /** strs: path, content. open(path, O_WRONLY) and write content: a cgroup v1 tasks file (a host path, in the
   *  host's mount namespace). Nothing under /proc: that is PROCFS_WRITE's. */
  WRITE_FILE: { code: 5, ints: 0, strs: 2 },
  /** ints: uid, gid. setresgid(gid x3) then setresuid(uid x3), staying non-dumpable: become root of a new
   *  (create) or joined (exec) user ns. */
  SETRESID: { code: 6, ints: 2, strs: 0 },
  /** strs: name. sethostname. */
  SETHOSTNAME: { code: 7, ints: 0, strs: 1 },
  /** strs: name. setdomainname. */
  SETDOMAINNAME: { code: 8, ints: 0, strs: 1 },
  /** ints: flags, mkdirKind (0 none, 1 directory, 2 file, 3 none and skip the record when the target is missing,
   *  4 as 1, and when the directory was there the new filesystem's root gets its mode; root must be given)[,
   *  sourceIndex] · strs: source, target, fstype, data, root.
   *  With a root, target is resolved inside it (one that leaves it is refused) and mounted on as resolved,
   *  created first when asked (parents 0755, a file empty); without one (mkdirKind then 0, any other is
   *  ignored) target is used as given. Empty source/fstype/data are passed as NULL.
   *  With sourceIndex, the source is the fd BIND_SOURCES opened for its entry of that index
   *  (/proc/self/fd/N; each index is used once and closed); `source` is then only shown in errors.
   *  Then mount(source, target, fstype, flags, data). */
  MOUNT: { code: 9, ints: -1, strs: 5 },
  /** ints: mode (S_IFCHR|perm ...), major, minor, uid, gid · strs: path. mknod + chown, in path's
   *  directory as resolved inside the current root, its missing components made first (0755); an
   *  existing node is replaced. */
  MKNOD: { code: 10, ints: 5, strs: 1 },
  /** ints: existing (0 fail, 1 keep it, 2 replace it: unlink, or rmdir an empty directory) · strs: target,
   *  linkpath, root. symlink(target, linkpath), in linkpath's directory as resolved inside root ("" = the
   *  current root). */
  SYMLINK: { code: 11, ints: 1, strs: 3 },
  /** strs: rootfs. chdir(rootfs); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/"). */
  PIVOT_ROOT: { code: 12, ints: 0, strs: 1 },
  /** strs: rootfs. chdir(rootfs); mount(rootfs, "/", MS_MOVE); chroot("."); chdir("/") (--no-pivot). */
  MOVE_ROOT: { code: 13, ints: 0, strs: 1 },
  /** strs: rootfs. chdir(rootfs); chroot("."); chdir("/"): no mount namespace of its own, the mounts stay
   *  in the caller's namespace. */
  CHROOT: { code: 71, ints: 0, strs: 1 },
  /** strs: rootfs, fstype... Right before MOVE_ROOT (--no-pivot): every mount of /proc/self/mountinfo (read
   *  whole first) whose root is "/" (a full mount), whose type is one of the fstypes and whose mount point
   *  is not the rootfs or under it is made rslave and detached (MNT_DETACH), or covered by an empty tmpfs
   *  where the kernel refuses the unmount (EINVAL/EPERM: locked in a user namespace); a point that no
   *  longer resolves to a mount (ENOENT/EINVAL) is skipped. With no full procfs left in the namespace,
   *  the kernel refuses a process of the container a fresh procfs mount (mount_too_revealing). */
  DETACH_PSEUDO_FS: { code: 72, ints: 0, strs: -1 },
  /** strs: path. Keep open(path, O_PATH|O_CLOEXEC) of the exec fifo for WAIT_FIFO. */
  OPEN_FIFO: { code: 14, ints: 0, strs: 1 },
  /** ints: resource, soft, hard. setrlimit (u64 max = RLIM_INFINITY). */
  RLIMIT: { code: 15, ints: 3, strs: 0 },
  /** prctl(PR_SET_NO_NEW_PRIVS, 1). */
  NO_NEW_PRIVS: { code: 16, ints: 0, strs: 0 },
  /** ints: keepMask, lastCap. Drop every capability 0..lastCap not in keepMask from the bounding set. */
  CAP_BOUNDING: { code: 17, ints: 2, strs: 0 },
  /** ints: option, value. prctl(option, value): PR_SET_KEEPCAPS around the uid change, PR_SET_DUMPABLE
   *  around the id-map sync of a caller without host root (it must open the child's /proc files). */
  PRCTL: { code: 18, ints: 2, strs: 0 },
  /** ints: uid, gid, setgroups (0/1), gid... setgroups(gids) when asked, setresgid, setresuid. */
  SETUSER: { code: 19, ints: -1, strs: 0 },
  /** ints: effective, permitted, inheritable (bit masks). capset. */
  CAPSET: { code: 20, ints: 3, strs: 0 },
  /** ints: mask. Raise each ambient capability in mask. */
  AMBIENT: { code: 21, ints: 1, strs: 0 },
  /** ints: mask. umask. */
  UMASK: { code: 22, ints: 1, strs: 0 },
  /** strs: path. chdir to path resolved inside the current root with openat2(RESOLVE_IN_ROOT|
   *  RESOLVE_NO_MAGICLINKS) + fchdir, so a cwd of /proc/self/fd/N cannot reach an fd tsrun-init holds
   *  (CVE-2024-21626); then getcwd must be reachable from the root. An fchdir refused with EACCES or EPERM
   *  is not an error: the directory's O_PATH fd is kept for CHDIR_RETRY (a later CHDIR drops it). */
  CHDIR: { code: 23, ints: 0, strs: 1 },
  /** strs: path (for the message). When CHDIR kept a directory it could not enter, fchdir to it now (as the
   *  process's user, under the filter: no other syscall), and close it; otherwise nothing. Error:
   *  `chdir <path>: <strerror> (as root and as the process's user)`. */
  CHDIR_RETRY: { code: 60, ints: 0, strs: 1 },
  /** ints: from. Mark every fd >= from close-on-exec (close_range CLOSE_RANGE_CLOEXEC). */
  CLOEXEC_FROM: { code: 24, ints: 1, strs: 0 },
  /** strs: searchPath, file. Resolve file as execvp would with searchPath (a file with a '/' is used
   *  as given); missing or not executable: error `exec: "<file>": executable file not found in $PATH`
   *  (or `...: no such file or directory` / `permission denied` for a path). Keeps the result for EXEC. */
  FIND_EXEC: { code: 25, ints: 0, strs: 2 },
  /** Child writes "ready\n" on the sync fd and closes it. */
  READY: { code: 26, ints: 0, strs: 0 },
  /** open("/proc/self/fd/<fifo>", O_WRONLY) (blocks until `start` opens it) and keep it: `start` reads it
   *  until STARTED writes "0"; a failure in between is written there as "1<message>" (see sync.c). */
  WAIT_FIFO: { code: 27, ints: 0, strs: 0 },
  /** ints: argc · strs: argv[0..argc-1], then env. execve(found path, argv, env). */
  EXEC: { code: 28, ints: 1, strs: -1 },
  /** Bring `lo` up in the current network namespace (ioctl SIOCSIFFLAGS). */
  LOOPBACK_UP: { code: 29, ints: 0, strs: 0 },
  /** setsid(). */
  SETSID: { code: 30, ints: 0, strs: 0 },
  /** ints: userxattr (1: inside a new user namespace, metadata in user.overlay.* xattrs), joined (1: Linux
   *  < 6.8, the lower dirs come as ONE string in overlayfs's "lowerdir" syntax) · strs: target,
   *  upperdir, workdir, lowerdir... with the lower dirs TOP-MOST FIRST (the kernel's
   *  lowerdir order: the first one wins on a shared name; the reverse of `tsrun.layers`). At least one
   *  lower dir. fsopen("overlay"), fsconfig "lowerdir+" once per lower dir (Linux >= 6.8, no option
   *  length limit), upperdir, workdir, create, fsmount, then move_mount onto open(target, O_PATH|
   *  O_NOFOLLOW). Runs in the container's mount namespace, which must not propagate to the host.
   *  Checked when the plan is decoded: at least 4 strings, exactly 4 when joined. */
  OVERLAY: { code: 31, ints: 2, strs: -1 },
  /** ints: attrSet, attrClr, propagation, recursive · strs: target, root. mount_setattr(2) on target
   *  (resolved inside root with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), or as given when root is
   *  empty), AT_RECURSIVE when recursive != 0: the r- options (rro, rnosuid, ratime, ...). */
  MOUNT_SETATTR: { code: 32, ints: 4, strs: 2 },
  /** ints: phase · strs: target, root. tmpcopyup. Phase 0, before the tmpfs is mounted: open the
   *  directory target (resolved as for MOUNT_SETATTR; missing = nothing to copy) and keep the fd.
   *  Phase 1, after: copy the kept directory's tree (dirs, files, symlinks, fifos and device nodes,
   *  with modes, owners and times; sockets skipped) into target, never following a symlink, then close it. */
  COPY_UP: { code: 33, ints: 1, strs: 2 },
  /** ints: dirFlags, fileFlags · strs: path, root, dirSource, dirFstype, dirData, nullPath. Hide path
   *  (resolved inside root): a directory gets mount(dirSource, path, dirFstype, dirFlags, dirData), any
   *  other file a bind of nullPath (which must be the real null device, 1:3); a missing path is skipped. */
  MASK: { code: 34, ints: 2, strs: 6 },
  /** ints: timeoutSec (0 = none), argc, slot · strs: name, path, argv[0..argc-1], then env. An OCI hook
   *  run by the init: fork, execve(path, argv, env) with stdin = the text of sync data slot `slot` (then
   *  EOF), stdout dropped, stderr kept for the message, no other fd. Fails naming `name`
   *  ("/hooks/<kind>/<i>") on a non-zero exit, a signal, a failed execve, or when it has not exited
   *  after timeoutSec (it is SIGKILLed). */
  HOOK: { code: 37, ints: 3, strs: -1 },
  /** Write "0" on the exec fifo kept by WAIT_FIFO (`start` learns the process is about to be executed) and close it. */
  STARTED: { code: 38, ints: 0, strs: 0 },
  /** ints: persona · strs: field. personality(persona) (linux.personality; LINUX32 makes `uname -m`
   *  say i686). Just before the exec fifo, as runc does. */
  PERSONALITY: { code: 43, ints: 1, strs: 1 },
  /** ints: mode | flags, then 0 to 16 node mask words (64 nodes each, node 0 = bit 0 of the first) ·
   *  strs: field. set_mempolicy(mode, mask, 64 * words + 1) (linux.memoryPolicy), next to PERSONALITY:
   *  before the exec fifo and the seccomp filter (a Docker-style profile allows it only with
   *  CAP_SYS_NICE), inherited by the process across execve. Outside the core: src/init/numa/. */
  MEMPOLICY: { code: 73, ints: -1, strs: 1 },
  /** ints: policy, flags, nice, priority, runtime, deadline, period · strs: field. sched_setattr(0, ...)
   *  (process.scheduler); run as the container's root, before capabilities are dropped. */
  SCHED_SETATTR: { code: 44, ints: 7, strs: 1 },
  /** ints: ioprio (class << 13 | level) · strs: field. ioprio_set(IOPRIO_WHO_PROCESS, 0, ioprio). */
  IOPRIO_SET: { code: 45, ints: 1, strs: 1 },
  /** ints: mask words (64 CPUs each, CPU 0 = bit 0 of the first) · strs: field. sched_setaffinity(0):
   *  process.execCPUAffinity, `initial` in stage 0 before CLONE (the child inherits it, before its
   *  cgroup), `final` in the child before exec. */
  CPU_AFFINITY: { code: 46, ints: -1, strs: 1 },
  /** ints: permBits · strs: name. keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new session keyring,
   *  then KEYCTL_SETPERM of its permissions | permBits (permBits 0: only join, as exec does). ENOSYS (no keyrings) is not an error (runc). */
  SESSION_KEYRING: { code: 47, ints: 1, strs: 1 },
  /** Stage 0, before any SETNS/JOIN_NAMESPACES and before the container has a mount: open the procfs
   *  handle every PROCFS_WRITE goes through (outside the core: src/init/procfs/). A private procfs
   *  (fsopen + fsmount) where the caller may make one, else the caller's /proc (O_PATH); either must be a
   *  procfs (fstatfs) whose root directory (inode 1) is the root of its mount (statx STATX_ATTR_MOUNT_ROOT).
   *  Close-on-exec. Error: `procfs handle: ...`. */
  PROCFS_OPEN: { code: 76, ints: 0, strs: 0 },
  /** strs: path (relative to the procfs root, e.g. "self/attr/exec", "sys/net/ipv4/ip_forward"), value,
   *  field, hint. openat2(handle, path, O_WRONLY, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV),
   *  the file must be on procfs (fstatfs), then one write of value. Errors name the field:
   *  `<field>: open /proc/<path>: <strerror>`, `<field>: write <value> to /proc/<path>: <strerror><hint>`
   *  (hint only for EACCES/EPERM; the value left out when it has several lines). */
  PROCFS_WRITE: { code: 77, ints: 0, strs: 4 },
  /** Close the procfs handle (after the last PROCFS_WRITE: the waiting init keeps no host fd). */
  PROCFS_CLOSE: { code: 78, ints: 0, strs: 0 },
  /** After the pivot and every mount, before the filter: the path WAIT_FIFO will reopen (/proc/self/fd/N of
   *  OPEN_FIFO's fd, in the container's /proc) must lead to the exec fifo itself (stat and fstat: same device
   *  and inode). Error: `exec fifo: /proc/self/fd/N in the container does not lead to it (is /proc a procfs?)`. */
  FIFO_CHECK: { code: 79, ints: 0, strs: 0 },
  /** strs: path per bind mount, in MOUNT's sourceIndex order. Stage 0, before CLONE: keep the paths and
   *  make a socketpair. Right after CLONE, before the "pid" line and before the child passes the gate,
   *  stage 0 joins the child's mount namespace (/proc/<pid>/ns/mnt), opens each path O_PATH as host root,
   *  returns to its own namespace and sends the fds, one per SCM_RIGHTS message (on failure it SIGKILLs the
   *  child first); the child receives all of them right after the gate. For a new user namespace whose root
   *  could not search the source's directories (runc does the same in nsexec). */
  BIND_SOURCES: { code: 70, ints: 0, strs: -1 },
  /** ints: sourceIndex, mode (0 bind, 1 rbind, 2 overlay), idmapRecursive (mode 2: joined) · strs: uidMap,
   *  gidMap, label[, upper, work, lowerdir... (mode 2, top-most first)]. Stage 0, before CLONE (with
   *  BIND_SOURCES): bind source sourceIndex is idmapped. At BIND_SOURCES' send (in the child's mount namespace,
   *  as host root), with a user namespace made for it (a child that unshares it, whose uid_map/gid_map get
   *  these texts): modes 0 and 1 open the source with open_tree(OPEN_TREE_CLONE, AT_RECURSIVE for 1) and give
   *  it mount_setattr(MOUNT_ATTR_IDMAP, AT_RECURSIVE when idmapRecursive); mode 2 (tsrun.idmapLayers) clones
   *  and idmaps each lower dir so and makes an overlay of them (as "lowerdir+" each, or one "lowerdir" string
   *  when joined, Linux < 6.8) with upper and work, and sends its fsmount fd as the source. A failure names
   *  label (the field, and a mount's destination), the path and its filesystem. Outside the core:
   *  src/init/idmap/. Checked when run: 3 strings for modes 0 and 1, at least 6 for mode 2. */
  IDMAP_SOURCE: { code: 74, ints: 3, strs: -1 },
  /** ints: mkdirKind (as MOUNT's 0, 1 or 2), sourceIndex · strs: target, root. The child: move_mount of bind
   *  source sourceIndex (an idmapped tree or overlay from IDMAP_SOURCE) onto target, resolved (and made) inside
   *  root as MOUNT does (root "": target as given). */
  IDMAP_MOUNT: { code: 75, ints: 2, strs: 2 },
  /** ints: nstype per path · strs: paths (as many as ints, at most 16). Join existing namespaces, as
   *  `exec` does with those of a running container's init: open every path first, then setns each fd
   *  in the order given (the planner puts user first and mount last), then make the process
   *  non-dumpable again. All opens come first because once in a container's user namespace, host
   *  root may no longer open the /proc/<pid>/ns files of a non-dumpable process (a created container's
   *  init is still tsrun-init). pid and time namespaces apply to children: join them before CLONE. */
  JOIN_NAMESPACES: { code: 53, ints: -1, strs: -1 },
  /** ints: flags, slot, filter... · seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with the filter's
   *  struct sock_filter values, one per int (8 bytes as on this little-endian host: code | jt << 16 |
   *  jf << 24 | k << 32). slot < SYNC_SLOTS (flags then include NEW_LISTENER): send the returned notify fd
   *  on the SECCOMP_LISTENER socket in one SCM_RIGHTS message whose payload is the text of that sync data
   *  slot (the container process state), then close both; slot = -1: no listener. Everything after this
   *  record runs under the filter. */
  SECCOMP: { code: 35, ints: -1, strs: 0 },
  /** strs: path. Connect an AF_UNIX stream socket to path (the seccomp listener) and keep it for
   *  SECCOMP. Stage 0, so the path is the host's; the fd is close-on-exec and follows the clone. */
  SECCOMP_LISTENER: { code: 36, ints: 0, strs: 1 },
  /** strs: path. Stage 0, before any SETNS (the path is the caller's): connect an AF_UNIX stream socket
   *  to the console socket at path (--console-socket) and keep it for PTY, which sends the pty master
   *  there. CLONE closes stage 0's copy. Error: `console socket <path>: connect: <strerror>`. */
  CONSOLE_SOCKET: { code: 39, ints: 0, strs: 1 },
  /** strs: path. Stage 0, before any SETNS (the path is the caller's): connect an AF_UNIX stream socket
   *  to path (--pidfd-socket) and keep it for PIDFD_SEND; close-on-exec, it follows the clone, and a
   *  foreground stage 0 closes its copy before it waits. Outside the core: src/init/pidfd/.
   *  Error: `pidfd socket <path>: connect: <strerror>`. */
  PIDFD_SOCKET: { code: 80, ints: 0, strs: 1 },
  /** strs: payload. In the child, before the filter: pidfd_open(getpid(), 0) (the process itself, whatever
   *  its pid namespace) and send it with ONE sendmsg carrying one SCM_RIGHTS fd and `payload` as data on
   *  the socket of PIDFD_SOCKET, as runc sends it ("standard" for create/run, "setns" for exec; containerd
   *  reads one fd and ignores the data), then close both. */
  PIDFD_SEND: { code: 81, ints: 0, strs: 1 },
  /** Stage 0, before CLONE (`run`/`exec` attached to the caller's terminal, no console socket): a
   *  socketpair; the child keeps one end for PTY, stage 0 the other. A foreground CLONE then receives the
   *  pty master on it and relays the caller's terminal (src/init/relay/tty_relay.c): stdin's terminal in raw mode for
   *  input (output flags kept) and ONLCR off on the pty, as runc; stdin -> master -> stdout; SIGWINCH ->
   *  TIOCGWINSZ on stdin (else stdout) -> TIOCSWINSZ on the master, also once at the start; the end of a
   *  stdin that is not a terminal -> the pty's VEOF character once the container has read the rest. When
   *  the child exits: its output drained, the terminal restored, exit with its status. Without a master
   *  (the child failed first) it just waits. */
  CONSOLE_PAIR: { code: 40, ints: 0, strs: 0 },
  /** ints: rows, cols, uid, mountConsole · strs: ptmx, payload. In the child, after the root is built and the
   *  process is a session leader (SETSID): open(ptmx) (must be a devpts ptmx: the container's own),
   *  unlock it, open the slave with TIOCGPTPEER (no path lookup), TIOCSWINSZ when rows and cols are
   *  both > 0, fchown the slave to uid (group unchanged), bind the slave on /dev/console (created as an
   *  empty 0666 file inside the current root if missing; a non-regular file there is replaced) when
   *  mountConsole, TIOCSCTTY the slave, dup2 it onto 0, 1 and 2, then send the master with ONE
   *  sendmsg carrying one SCM_RIGHTS fd and `payload` as data on the socket of CONSOLE_SOCKET or
   *  CONSOLE_PAIR, and close the socket and the master. */
  PTY: { code: 41, ints: 4, strs: 2 },
} as const satisfies Record<string, OpShape>;

/** A table entry: the op's number, and how many ints and strings its record has (-1 = variable). */
export interface OpShape {
  readonly code: number;
  readonly ints: number;
  readonly strs: number;
}

export type OpName = keyof typeof OPS;

/** An op code (a record's `op`). */
export type Op = (typeof OPS)[OpName]["code"];
/** Op codes by name, from OPS: `Op.MOUNT` is 9. Typed as Op, as an enum member would be. */
export const Op = Object.fromEntries(Object.entries(OPS).map(([name, d]) => [name, d.code])) as { readonly [K in OpName]: Op };

/** The prctl(2) options PRCTL records use (linux/prctl.h). */
export const PR_SET_DUMPABLE = 4;
export const PR_SET_KEEPCAPS = 8;

export const PLAN_MAGIC = "TSRP";
export const PLAN_VERSION = 1;

/** One record of the plan, as built by the planner and encoded by encode.ts. */
export interface PlanRecord {
  op: Op;
  ints?: (number | bigint)[];
  /** More ints, after `ints`, given as their little-endian bytes (a multiple of 8): a seccomp filter's
   *  ~1000 struct sock_filter values are packed once, without a BigInt each (bpf.ts packFilter). */
  rawInts?: Uint8Array;
  strs?: string[];
}
