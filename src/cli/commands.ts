import { TsrunError, UsageError } from "../errors.js";
import type { RuntimeContext } from "../lifecycle/context.js";
import type { FlagSpec, ParsedArgs, VerbSpec } from "./args.js";
import { stdout } from "./stdio.js";

/**
 * The verbs. Each one's implementation is imported only when that verb runs: every CLI call pays for
 * what it loads, and a manager makes several calls per container.
 */
export interface Verb extends VerbSpec {
  run(args: ParsedArgs, ctx: RuntimeContext): Promise<number | void> | number | void;
}

const str = (a: ParsedArgs, name: string): string | undefined => a.flags[name] as string | undefined;
const bool = (a: ParsedArgs, name: string): boolean => a.flags[name] === true;

const CREATE_FLAGS: FlagSpec[] = [
  { name: "bundle", short: "b", kind: "string", placeholder: "DIR", description: "bundle directory (default: the current directory)" },
  { name: "pid-file", kind: "string", placeholder: "FILE", description: "write the container init's pid to FILE (no newline)" },
  { name: "console-socket", kind: "string", placeholder: "SOCK", description: "AF_UNIX socket to send the pty master to" },
  { name: "pidfd-socket", kind: "string", placeholder: "SOCK", description: "AF_UNIX socket to send a pidfd of the container's init to" },
  { name: "no-pivot", kind: "boolean", description: "use MS_MOVE + chroot instead of pivot_root" },
  { name: "no-new-keyring", kind: "boolean", description: "keep the caller's session keyring (default: a new one named _ses.<id>)" },
  { name: "preserve-fds", kind: "string", placeholder: "N", description: "pass fds 3..3+N-1 to the container" },
  { name: "dry-run", kind: "boolean", description: "print every action create would take, and do none of them (a tsrun extension)" },
  { name: "format", kind: "string", placeholder: "text|json", description: "with --dry-run: numbered lines (default) or a JSON array of the steps" },
];

/** --dry-run's output form; --format alone is a mistake (nothing else prints). */
function dryRunFormat(a: ParsedArgs): "text" | "json" | undefined {
  const format = str(a, "format");
  if (format !== undefined && format !== "text" && format !== "json") throw new UsageError(`--format must be text or json, not "${format}"`);
  if (!bool(a, "dry-run")) {
    if (format !== undefined) throw new UsageError("--format is for --dry-run only");
    return undefined;
  }
  return format ?? "text";
}

const ID = { name: "container-id", required: true };

/** runc update's value flags (name, help); kept here so the verb table loads no update code. */
const UPDATE_FLAG_NAMES: [string, string][] = [
  ["memory", "memory limit in bytes, or with a unit: 64m, 1g (-1 unlimited)"],
  ["memory-reservation", "memory soft limit"],
  ["memory-swap", "memory plus swap limit (-1 unlimited)"],
  ["kernel-memory", "kernel memory limit (ignored with a warning: Linux no longer enforces it)"],
  ["kernel-memory-tcp", "kernel TCP buffer limit (cgroup v1)"],
  ["cpu-quota", "CFS quota in microseconds per period (-1 unlimited)"],
  ["cpu-period", "CFS period in microseconds"],
  ["cpu-burst", "CFS burst in microseconds: CPU time saved up beyond the quota (v2 cpu.max.burst, v1 cpu.cfs_burst_us)"],
  ["cpu-idle", "1: the cgroup runs as SCHED_IDLE (v2 cpu.idle), 0: the default"],
  ["cpu-share", "CPU shares (relative weight)"],
  ["cpu-rt-period", "realtime period in microseconds"],
  ["cpu-rt-runtime", "realtime runtime in microseconds per period"],
  ["cpuset-cpus", "CPUs allowed (0-3,7)"],
  ["cpuset-mems", "memory nodes allowed (0-1)"],
  ["pids-limit", "maximum number of tasks (-1 unlimited)"],
  ["blkio-weight", "block I/O weight (10 to 1000)"],
];

function fdCount(text: string | undefined): number {
  const n = /^[0-9]+$/.test(text ?? "0") ? Number(text ?? "0") : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`--preserve-fds must be a non-negative integer, not "${text}"`);
  return n;
}

/** Options shared by create and run; fds from socket activation (LISTEN_FDS) are kept too, as runc does. */
function createOptions(a: ParsedArgs) {
  const listen = Number(process.env.LISTEN_FDS ?? 0);
  return {
    id: a.positionals[0],
    bundle: str(a, "bundle") ?? ".",
    pidFile: str(a, "pid-file"),
    consoleSocket: str(a, "console-socket"),
    pidfdSocket: str(a, "pidfd-socket"),
    noPivot: bool(a, "no-pivot"),
    noNewKeyring: bool(a, "no-new-keyring"),
    preserveFds: fdCount(str(a, "preserve-fds")) + (Number.isInteger(listen) && listen > 0 ? listen : 0),
  };
}

/** exec's flags, as runc's (`runc exec --help`). */
const EXEC_FLAGS: FlagSpec[] = [
  { name: "process", short: "p", kind: "string", placeholder: "FILE", description: "run the runtime-spec process (JSON) in FILE instead of a command" },
  { name: "detach", short: "d", kind: "boolean", description: "return once the process has started (do not wait for it)" },
  { name: "pid-file", kind: "string", placeholder: "FILE", description: "write the process's host pid to FILE (no newline)" },
  { name: "tty", short: "t", kind: "boolean", description: "allocate a pseudo-terminal: sent to --console-socket with --detach, else attached to this terminal" },
  { name: "console-socket", kind: "string", placeholder: "SOCK", description: "AF_UNIX socket to send the pty master to (with --tty and --detach)" },
  { name: "pidfd-socket", kind: "string", placeholder: "SOCK", description: "AF_UNIX socket to send a pidfd of the process to" },
  { name: "env", short: "e", kind: "list", placeholder: "NAME=VALUE", description: "set an environment variable (repeatable; replaces the config's)" },
  { name: "cwd", kind: "string", placeholder: "DIR", description: "working directory inside the container" },
  { name: "user", short: "u", kind: "string", placeholder: "UID[:GID]", description: "run as this uid (and gid)" },
  { name: "additional-gids", short: "g", kind: "list", placeholder: "GID", description: "add a supplementary group (repeatable)" },
  { name: "cap", short: "c", kind: "list", placeholder: "CAP_NAME", description: "add a capability to the bounding, effective, permitted and ambient sets (repeatable)" },
  { name: "no-new-privs", kind: "boolean", description: "set no_new_privs for the process" },
  { name: "apparmor", kind: "string", placeholder: "PROFILE", description: "AppArmor profile for the process" },
  { name: "process-label", kind: "string", placeholder: "LABEL", description: "SELinux label for the process" },
  { name: "preserve-fds", kind: "string", placeholder: "N", description: "pass fds 3..3+N-1 to the process" },
  { name: "cgroup", kind: "list", placeholder: "[CTRL[,CTRL...]:]PATH", description: "run in an existing sub-cgroup of the container's: PATH in every hierarchy, or per v1 controller (repeatable)" },
  { name: "ignore-paused", kind: "boolean", description: "exec into a paused container too (the process runs once it is resumed)" },
];

/** The CRIU flags checkpoint and restore share (runc's). */
const CRIU_FLAGS: FlagSpec[] = [
  { name: "tcp-established", kind: "boolean", description: "allow established TCP connections" },
  { name: "ext-unix-sk", kind: "boolean", description: "allow external unix sockets" },
  { name: "shell-job", kind: "boolean", description: "allow a shell job (a terminal shared with the caller)" },
  { name: "file-locks", kind: "boolean", description: "handle file locks" },
  { name: "auto-dedup", kind: "boolean", description: "deduplicate the memory images against the parent's" },
  { name: "manage-cgroups-mode", kind: "string", placeholder: "soft|full|strict|ignore", description: "how CRIU handles cgroups (default soft)" },
  { name: "empty-ns", kind: "list", placeholder: "network", description: "leave this namespace to the runtime: CRIU neither dumps nor restores it" },
];

function criuFlags(a: ParsedArgs) {
  return {
    imagePath: str(a, "image-path") ?? "checkpoint",
    ...(str(a, "work-path") !== undefined ? { workPath: str(a, "work-path") } : {}),
    tcpEstablished: bool(a, "tcp-established"),
    extUnixSk: bool(a, "ext-unix-sk"),
    shellJob: bool(a, "shell-job"),
    fileLocks: bool(a, "file-locks"),
    autoDedup: bool(a, "auto-dedup"),
    ...(str(a, "manage-cgroups-mode") !== undefined ? { manageCgroupsMode: str(a, "manage-cgroups-mode") } : {}),
    emptyNs: a.lists["empty-ns"] ?? [],
  };
}

export const VERBS: Verb[] = [
  {
    name: "create",
    description: "Create a container: everything but the user process, which waits for `tsrun start`.",
    flags: CREATE_FLAGS,
    positionals: [ID],
    examples: [
      ["Create c1 from a bundle", "tsrun create --bundle bundles/busybox --pid-file /tmp/c1.pid c1"],
      ["Review what creating it would do", "tsrun create --dry-run --bundle bundles/busybox c1"],
    ],
    async run(a, ctx) {
      const format = dryRunFormat(a);
      if (format) {
        const { dryRunCreate } = await import("../lifecycle/dry-run.js");
        return void stdout.write(await dryRunCreate(ctx, createOptions(a), format));
      }
      const { createContainer } = await import("../lifecycle/create.js");
      await createContainer(ctx, createOptions(a));
    },
  },
  {
    name: "start",
    description: "Run the user process of a created container.",
    flags: [],
    positionals: [ID],
    async run(a, ctx) {
      const { startContainer } = await import("../lifecycle/start.js");
      await startContainer(ctx, a.positionals[0]);
    },
  },
  {
    name: "state",
    description: "Print the state of a container as JSON (runtime.md).",
    flags: [],
    positionals: [ID],
    async run(a, ctx) {
      const { containerState } = await import("../lifecycle/state.js");
      stdout.write(JSON.stringify(containerState(ctx, a.positionals[0]), null, 2) + "\n");
    },
  },
  {
    name: "kill",
    description: "Send a signal (default TERM) to the container's init process; signal 0 only checks that it is alive.",
    flags: [{ name: "all", short: "a", kind: "boolean", description: "signal every process in the container's cgroup (also once it has stopped)" }],
    positionals: [ID, { name: "signal", required: false }],
    examples: [["Stop c1", "tsrun kill c1 TERM"], ["Kill every process of c1", "tsrun kill --all c1 KILL"]],
    async run(a, ctx) {
      const [{ killContainer }, { parseKillSignal }] = await Promise.all([import("../lifecycle/kill.js"), import("../lifecycle/signals.js")]);
      killContainer(ctx, a.positionals[0], parseKillSignal(a.positionals[1] ?? "TERM"), bool(a, "all"));
    },
  },
  {
    name: "update",
    description: "Change the cgroup limits of a created, running or paused container (runc's flags, or a LinuxResources JSON).",
    flags: [
      { name: "resources", short: "r", kind: "string", placeholder: "FILE|-", description: "LinuxResources JSON from FILE, or stdin for -" },
      ...UPDATE_FLAG_NAMES.map(([name, description]): FlagSpec => ({ name, kind: "string", placeholder: "VALUE", description })),
    ],
    positionals: [ID],
    examples: [["Limit c1 to 64 MiB", "tsrun update --memory 64m --memory-swap 64m c1"], ["As containerd does", "tsrun update --resources - c1 < resources.json"]],
    async run(a, ctx) {
      const { readResourcesArg, resourcesFromFlags, updateContainer } = await import("../lifecycle/update.js");
      const file = str(a, "resources");
      const flagged = UPDATE_FLAG_NAMES.filter(([n]) => a.flags[n] !== undefined).map(([n]) => `--${n}`);
      if (file !== undefined && flagged.length) throw new UsageError(`update: --resources cannot be combined with ${flagged.join(", ")}`);
      if (file === undefined && !flagged.length) throw new UsageError("update: nothing to change (give --resources or a flag such as --memory)");
      await updateContainer(ctx, a.positionals[0], file !== undefined ? readResourcesArg(file) : resourcesFromFlags(a.flags));
    },
  },
  {
    name: "exec",
    description: "Run another process in a created or running container (its namespaces and cgroup); exit with its status unless detached.",
    flags: EXEC_FLAGS,
    positionals: [ID, { name: "command", required: false, variadic: true }],
    flagsBeforePositionals: true,
    examples: [
      ["A shell command in c1", "tsrun exec c1 sh -c 'ps; id'"],
      ["As a manager does", "tsrun exec --process process.json --detach --pid-file exec.pid c1"],
    ],
    async run(a, ctx) {
      const { execInContainer } = await import("../lifecycle/exec.js");
      // Everything after the id is the command; a `--` right after the id only marks where it starts.
      const command = a.positionals.slice(1);
      if (command[0] === "--") command.shift();
      const nnp = a.flags["no-new-privs"];
      try {
        return await execInContainer(ctx, {
          id: a.positionals[0],
          args: command,
          processFile: str(a, "process"),
          detach: bool(a, "detach"),
          pidFile: str(a, "pid-file"),
          tty: bool(a, "tty"),
          consoleSocket: str(a, "console-socket"),
          pidfdSocket: str(a, "pidfd-socket"),
          env: a.lists.env,
          cwd: str(a, "cwd"),
          user: str(a, "user"),
          additionalGids: a.lists["additional-gids"],
          caps: a.lists.cap,
          noNewPrivs: typeof nnp === "boolean" ? nnp : undefined,
          apparmor: str(a, "apparmor"),
          processLabel: str(a, "process-label"),
          preserveFds: fdCount(str(a, "preserve-fds")),
          cgroups: a.lists.cgroup,
          ignorePaused: bool(a, "ignore-paused"),
        });
      } catch (e) {
        // As runc: every failure of exec itself exits 255, apart from any status the process can return.
        if (!(e instanceof TsrunError)) ctx.debug((e as Error).stack ?? "");
        const err = e instanceof TsrunError ? e : new TsrunError((e as Error).message);
        err.exitCode = 255;
        throw err;
      }
    },
  },
  {
    name: "delete",
    aliases: ["rm"],
    description: "Delete a stopped container; --force kills a created or running one first.",
    flags: [{ name: "force", short: "f", kind: "boolean", description: "kill the container if it is not stopped" }],
    positionals: [ID],
    async run(a, ctx) {
      const { deleteContainer } = await import("../lifecycle/delete.js");
      await deleteContainer(ctx, a.positionals[0], bool(a, "force"));
    },
  },
  {
    name: "run",
    description: "Create and start a container, wait for it and delete it; exit with its status (128+N if signal N killed it).",
    flags: [
      ...CREATE_FLAGS,
      { name: "detach", short: "d", kind: "boolean", description: "return once the process has started" },
      { name: "keep", kind: "boolean", description: "do not delete the container when it exits" },
    ],
    positionals: [ID],
    examples: [["Run the demo bundle", "tsrun run --bundle bundles/busybox demo"]],
    async run(a, ctx) {
      const format = dryRunFormat(a);
      if (format) {
        // create's dry run with run's options: in the foreground unless detached, then start, wait, delete.
        const { dryRunCreate } = await import("../lifecycle/dry-run.js");
        const run = { detach: bool(a, "detach"), keep: bool(a, "keep") };
        return void stdout.write(await dryRunCreate(ctx, { ...createOptions(a), foreground: !run.detach, run }, format));
      }
      const { runContainer } = await import("../lifecycle/run.js");
      return runContainer(ctx, { ...createOptions(a), detach: bool(a, "detach"), keep: bool(a, "keep") });
    },
  },
  {
    name: "pause",
    description: "Freeze every process of a container (cgroup freezer); `state` then reports paused.",
    flags: [],
    positionals: [ID],
    async run(a, ctx) {
      const { pauseContainer } = await import("../lifecycle/pause.js");
      pauseContainer(ctx, a.positionals[0]);
    },
  },
  {
    name: "resume",
    description: "Thaw a paused container.",
    flags: [],
    positionals: [ID],
    async run(a, ctx) {
      const { resumeContainer } = await import("../lifecycle/pause.js");
      resumeContainer(ctx, a.positionals[0]);
    },
  },
  {
    name: "ps",
    description: "List the container's processes: the host's ps output (default -ef) for the container's pids, or a JSON array of host pids.",
    flags: [{ name: "format", short: "f", kind: "string", placeholder: "table|json", description: "output format (default table)" }],
    positionals: [ID, { name: "ps-args", required: false, variadic: true }],
    // As runc: what follows the id are options of ps (`tsrun ps c1 -e -x`), not of tsrun.
    flagsBeforePositionals: true,
    examples: [["Host pids, as containerd reads them", "tsrun ps --format json c1"], ["Chosen ps columns", "tsrun ps c1 -o pid,stat,args"]],
    async run(a, ctx) {
      const { psPids, psTable } = await import("../lifecycle/ps.js");
      const format = str(a, "format") ?? "table";
      if (format === "json") return void stdout.write(JSON.stringify(psPids(ctx, a.positionals[0])) + "\n");
      if (format !== "table") throw new UsageError(`--format must be table or json, not "${format}"`);
      // A `--` right after the id only marks where the ps options start (runc would pass it to ps).
      const psArgs = a.positionals.slice(1);
      if (psArgs[0] === "--") psArgs.shift();
      stdout.write(psTable(ctx, a.positionals[0], psArgs));
    },
  },
  {
    name: "events",
    description: "Print the container's resource usage as JSON lines (runc's format) until it stops, and an oom line when the OOM killer strikes.",
    flags: [
      { name: "stats", kind: "boolean", description: "print one stats line and exit" },
      { name: "interval", kind: "string", placeholder: "DURATION", description: "time between stats lines (default 5s)" },
    ],
    positionals: [ID],
    examples: [["Usage every second", "tsrun events --interval 1s c1"]],
    async run(a, ctx) {
      const { containerEvents, parseDuration } = await import("../lifecycle/events.js");
      const intervalMs = parseDuration(str(a, "interval") ?? "5s");
      await containerEvents(ctx, a.positionals[0], { once: bool(a, "stats"), intervalMs }, (e) => stdout.write(JSON.stringify(e) + "\n"));
    },
  },
  {
    name: "checkpoint",
    description: "Dump a running container's processes with CRIU into --image-path (it is then deleted, unless --leave-running or --pre-dump).",
    flags: [
      { name: "image-path", kind: "string", placeholder: "DIR", description: "directory for the CRIU images (made if missing; default: ./checkpoint)" },
      { name: "work-path", kind: "string", placeholder: "DIR", description: "directory for CRIU's log and work files (default: the image path)" },
      { name: "parent-path", kind: "string", placeholder: "DIR", description: "the previous pre-dump, relative to the image path: only what changed since is written" },
      { name: "leave-running", kind: "boolean", description: "leave the processes running after the dump" },
      { name: "pre-dump", kind: "boolean", description: "dump memory only, and leave the container running (for a later dump with --parent-path)" },
      ...CRIU_FLAGS,
    ],
    positionals: [ID],
    examples: [
      ["Checkpoint c1 (it stops)", "tsrun checkpoint --image-path /var/ckpt/c1 c1"],
      ["Pre-dump, then the final dump", "tsrun checkpoint --pre-dump --image-path /var/ckpt/p c1 && tsrun checkpoint --image-path /var/ckpt/f --parent-path ../p c1"],
    ],
    async run(a, ctx) {
      const { checkpointContainer } = await import("../lifecycle/checkpoint.js");
      await checkpointContainer(ctx, a.positionals[0], {
        ...criuFlags(a),
        leaveRunning: bool(a, "leave-running"),
        preDump: bool(a, "pre-dump"),
        ...(str(a, "parent-path") !== undefined ? { parentPath: str(a, "parent-path") } : {}),
      });
    },
  },
  {
    name: "restore",
    description: "Create a running container from a bundle and a checkpoint image: its processes continue where they were dumped.",
    flags: [
      { name: "image-path", kind: "string", placeholder: "DIR", description: "directory of the CRIU images (default: ./checkpoint)" },
      { name: "work-path", kind: "string", placeholder: "DIR", description: "directory for CRIU's log and work files (default: the image path)" },
      { name: "bundle", short: "b", kind: "string", placeholder: "DIR", description: "bundle directory (default: the current directory)" },
      { name: "detach", short: "d", kind: "boolean", description: "return once the container is restored (required: see spec-notes)" },
      { name: "pid-file", kind: "string", placeholder: "FILE", description: "write the restored init's pid to FILE (no newline)" },
      { name: "console-socket", kind: "string", placeholder: "SOCK", description: "AF_UNIX socket for the pty master (terminal containers are refused for now)" },
      { name: "no-pivot", kind: "boolean", description: "tell CRIU not to use pivot_root" },
      { name: "no-subreaper", kind: "boolean", description: "accepted for runc's callers; tsrun never makes itself a subreaper" },
      ...CRIU_FLAGS,
    ],
    positionals: [ID],
    examples: [["Restore c1", "tsrun restore --detach --image-path /var/ckpt/c1 --bundle /srv/c1 c1"]],
    async run(a, ctx) {
      const { restoreContainer } = await import("../lifecycle/restore.js");
      await restoreContainer(ctx, a.positionals[0], {
        ...criuFlags(a),
        bundle: str(a, "bundle") ?? ".",
        detach: bool(a, "detach"),
        noPivot: bool(a, "no-pivot"),
        ...(str(a, "pid-file") !== undefined ? { pidFile: str(a, "pid-file") } : {}),
        ...(str(a, "console-socket") !== undefined ? { consoleSocket: str(a, "console-socket") } : {}),
      });
    },
  },
  {
    name: "list",
    aliases: ["ls"],
    description: "List the containers under the state root.",
    flags: [
      { name: "format", short: "f", kind: "string", placeholder: "table|json", description: "output format (default table)" },
      { name: "quiet", short: "q", kind: "boolean", description: "print only the ids" },
    ],
    positionals: [],
    async run(a, ctx) {
      const { listContainers } = await import("../lifecycle/state.js");
      const format = str(a, "format") ?? "table";
      if (format !== "table" && format !== "json") throw new UsageError(`--format must be table or json, not "${format}"`);
      const all = listContainers(ctx);
      if (bool(a, "quiet")) return void stdout.write(all.map((c) => `${c.id}\n`).join(""));
      if (format === "json") return void stdout.write(JSON.stringify(all) + "\n");
      const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], ...all.map((c) => [c.id, String(c.pid), c.status, c.bundle, c.created, c.owner])];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
      stdout.write(rows.map((r) => r.map((v, i) => (i < r.length - 1 ? v.padEnd(widths[i] + 3) : v)).join("")).join("\n") + "\n");
    },
  },
  {
    name: "spec",
    description: "Write a starting config.json (as `runc spec`) into the bundle directory.",
    flags: [
      { name: "bundle", short: "b", kind: "string", placeholder: "DIR", description: "directory to write config.json into (default: the current one)" },
      { name: "rootless", kind: "boolean", description: "a config with a user namespace mapping the caller" },
    ],
    positionals: [],
    async run(a) {
      const { writeDefaultSpec } = await import("./spec-file.js");
      writeDefaultSpec(str(a, "bundle") ?? ".", bool(a, "rootless"));
    },
  },
  {
    name: "features",
    description: "Print what this runtime supports, as JSON (runtime-spec features.md).",
    flags: [],
    positionals: [],
    async run() {
      const { features } = await import("./features.js");
      stdout.write(JSON.stringify(features(), null, 4) + "\n");
    },
  },
];

export function findVerb(name: string): Verb | undefined {
  return VERBS.find((v) => v.name === name || v.aliases?.includes(name));
}
